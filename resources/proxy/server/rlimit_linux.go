package server

import "syscall"

type syscallRlimit = syscall.Rlimit

func getRlimit(r *syscall.Rlimit) error { return syscall.Getrlimit(syscall.RLIMIT_NOFILE, r) }
