package server

import (
	"errors"
	"io"
	"sync/atomic"
	"syscall"
	"time"
)

// spliceChunk is how much one splice(2) moves at most: the default pipe capacity.
const spliceChunk = 64 * 1024

// spliceDir is copyDir through a kernel pipe, for "option splice-auto|splice-request|splice-response": bytes move
// from src's socket to dst's without passing through user space. It reports ok=false, having moved nothing, when
// a side is not a plain socket (TLS) or no pipe can be made; the caller then copies.
func spliceDir(dst, src *dconn, last *atomic.Int64, to time.Duration) (n int64, how byte, ok bool) {
	rs, rok := src.Conn.(syscall.Conn)
	ws, wok := dst.Conn.(syscall.Conn)
	if !rok || !wok {
		return 0, 0, false
	}
	rrc, err := rs.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	wrc, err := ws.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return 0, 0, false
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	const flags = spliceMove | spliceNonblock
	for how == 0 {
		src.armRead()
		var in int64
		var serr error
		err := rrc.Read(func(fd uintptr) bool {
			in, serr = syscall.Splice(int(fd), nil, p[1], nil, spliceChunk, flags)
			return !errors.Is(serr, syscall.EAGAIN)
		})
		if err == nil && serr != nil {
			err = serr
		}
		if err == nil && in == 0 {
			err = io.EOF
		}
		if err != nil {
			if isTimeout(err) {
				if to > 0 && time.Since(time.Unix(0, last.Load())) < to {
					src.rdl = 0
					continue
				}
				how = 'T'
			} else if err != io.EOF {
				how = 'E'
			}
			break
		}
		last.Store(time.Now().UnixNano())
		for in > 0 {
			dst.armWrite()
			var out int64
			var werr error
			err := wrc.Write(func(fd uintptr) bool {
				out, werr = syscall.Splice(p[0], nil, int(fd), nil, int(in), flags)
				return !errors.Is(werr, syscall.EAGAIN)
			})
			if err == nil {
				err = werr
			}
			if err != nil {
				how = 'E'
				if isTimeout(err) {
					how = 'T'
				}
				break
			}
			in -= out
			n += out
		}
	}
	endDir(dst, src, how)
	return n, how, true
}

const (
	spliceMove     = 0x1 // SPLICE_F_MOVE
	spliceNonblock = 0x2 // SPLICE_F_NONBLOCK
)
