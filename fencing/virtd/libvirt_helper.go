//go:build cgo && linux

package virtd

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

// libvirt's ABI (libvirt.h, stable since 2011), declared here so that building needs no libvirt-dev: the
// library (libvirt0) is opened at run time.
typedef void *dv_conn;
typedef void *dv_dom;

static dv_conn (*dv_open)(const char *);
static int (*dv_close)(dv_conn);
static int (*dv_is_alive)(dv_conn);
static dv_dom (*dv_by_name)(dv_conn, const char *);
static dv_dom (*dv_by_uuid)(dv_conn, const char *);
static int (*dv_get_state)(dv_dom, int *, int *, unsigned int);
static int (*dv_destroy)(dv_dom);
static int (*dv_create)(dv_dom);
static int (*dv_free)(dv_dom);
static int (*dv_list_all)(dv_conn, dv_dom **, unsigned int);
static const char *(*dv_get_name)(dv_dom);
static int (*dv_get_uuid)(dv_dom, char *);
static int (*dv_last_code)(void);
static const char *(*dv_last_msg)(void);
static void (*dv_set_error_func)(void *, void (*)(void *, void *));

static void dv_quiet(void *ud, void *err) { (void)ud; (void)err; }

// dv_load opens libvirt.so.0 and resolves the functions; it returns NULL or what went wrong.
static const char *dv_load(void) {
	void *h = dlopen("libvirt.so.0", RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
#define DV_SYM(p, n) if (!(*(void **)(&p) = dlsym(h, n))) return "libvirt.so.0 has no " n;
	DV_SYM(dv_open, "virConnectOpen")
	DV_SYM(dv_close, "virConnectClose")
	DV_SYM(dv_is_alive, "virConnectIsAlive")
	DV_SYM(dv_by_name, "virDomainLookupByName")
	DV_SYM(dv_by_uuid, "virDomainLookupByUUIDString")
	DV_SYM(dv_get_state, "virDomainGetState")
	DV_SYM(dv_destroy, "virDomainDestroy")
	DV_SYM(dv_create, "virDomainCreate")
	DV_SYM(dv_free, "virDomainFree")
	DV_SYM(dv_list_all, "virConnectListAllDomains")
	DV_SYM(dv_get_name, "virDomainGetName")
	DV_SYM(dv_get_uuid, "virDomainGetUUIDString")
	DV_SYM(dv_last_code, "virGetLastErrorCode")
	DV_SYM(dv_last_msg, "virGetLastErrorMessage")
	DV_SYM(dv_set_error_func, "virSetErrorFunc")
	dv_set_error_func(NULL, dv_quiet); // errors are reported to the caller, not printed by libvirt
	return NULL;
}

// dv_err copies libvirt's last error (thread-local: read in the same C call that failed).
static int dv_err(char *msg, int n) {
	snprintf(msg, n, "%s", dv_last_msg());
	return dv_last_code();
}

static dv_conn dv_connect(const char *uri, char *msg, int n) {
	dv_conn c = dv_open(uri);
	if (!c) dv_err(msg, n);
	return c;
}

static void dv_disconnect(dv_conn c) { dv_close(c); }

// dv_check closes c and returns NULL if its connection is dead (libvirtd restarted, say).
static dv_conn dv_check(dv_conn c) {
	if (c && dv_is_alive(c) != 1) { dv_close(c); return NULL; }
	return c;
}

// dv_do looks a domain up (by UUID string when byuuid) and runs op on it: 0 reads its state into *state,
// 1 destroys it, 2 starts it. It returns 0, or -1 with *lookup set when the lookup failed, *code and msg
// set from libvirt's error.
static int dv_do(dv_conn c, const char *h, int byuuid, int op, int *state, int *lookup, int *code, char *msg, int n) {
	dv_dom d = byuuid ? dv_by_uuid(c, h) : dv_by_name(c, h);
	*lookup = 0;
	if (!d) { *lookup = 1; *code = dv_err(msg, n); return -1; }
	int r, reason;
	switch (op) {
	case 0: r = dv_get_state(d, state, &reason, 0); break;
	case 1: r = dv_destroy(d); break;
	default: r = dv_create(d); break;
	}
	if (r < 0) *code = dv_err(msg, n);
	dv_free(d);
	return r < 0 ? -1 : 0;
}

// dv_list writes "UUID NAME\n" for every domain into a malloc'd string (*out), or returns -1.
static int dv_list(dv_conn c, char **out, int *code, char *msg, int n) {
	dv_dom *doms = NULL;
	int k = dv_list_all(c, &doms, 0);
	if (k < 0) { *code = dv_err(msg, n); return -1; }
	size_t size = 1;
	for (int i = 0; i < k; i++) size += strlen(dv_get_name(doms[i])) + 40;
	char *s = malloc(size), *p = s;
	*p = 0;
	for (int i = 0; i < k; i++) {
		char uuid[64];
		if (dv_get_uuid(doms[i], uuid) == 0) p += sprintf(p, "%s %s\n", uuid, dv_get_name(doms[i]));
		dv_free(doms[i]);
	}
	free(doms);
	*out = s;
	return 0;
}
*/
import "C"

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unsafe"
)

// haveLibvirtHelper: this build can run the libvirt helper (see RunLibvirtHelper).
const haveLibvirtHelper = true

// virDomainState words as virsh domstate prints them.
var virshStateWords = []string{"no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"}

// RunLibvirtHelper is the libvirt helper process: it opens uri with libvirt in process (libvirt.so.0,
// loaded at run time) and answers, on in and out, the subset of virsh's interactive language that the
// libvirt backend speaks (domstate, destroy, start, list --all --uuid --name, echo; commands separated by
// ";"), printing what virsh prints, so the backend's session code drives either. Like virsh it connects
// again before a command line when the connection is dead or was never made. It reads its input with
// buffered reads, where virsh's readline reads a byte at a time (~0.1 ms per command line). It returns
// when in ends.
func RunLibvirtHelper(uri string, in io.Reader, out io.Writer) error {
	if msg := C.dv_load(); msg != nil {
		return fmt.Errorf("load libvirt: %s", C.GoString(msg))
	}
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))
	var conn C.dv_conn
	defer func() {
		if conn != nil {
			C.dv_disconnect(conn)
		}
	}()
	w := bufio.NewWriter(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 4096), 1<<16)
	for sc.Scan() {
		// As virsh: (re)connect before a command line when there is no live connection, and say why not.
		if conn = C.dv_check(conn); conn == nil {
			var msg [512]C.char
			if conn = C.dv_connect(curi, &msg[0], C.int(len(msg))); conn == nil {
				fmt.Fprintf(w, "error: failed to connect to the hypervisor\nerror: %s\n", C.GoString(&msg[0]))
			}
		}
		for _, cmd := range strings.Split(sc.Text(), ";") {
			f := strings.Fields(cmd)
			if len(f) == 0 {
				continue
			}
			if conn == nil && f[0] != "echo" {
				fmt.Fprintln(w, "error: no valid connection")
				continue
			}
			helperCommand(conn, f, w)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("libvirt helper: write: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("libvirt helper: read: %w", err)
	}
	return nil
}

func helperCommand(conn C.dv_conn, f []string, w io.Writer) {
	var msg [512]C.char
	var code C.int
	switch {
	case f[0] == "echo":
		fmt.Fprintln(w, strings.ReplaceAll(strings.Join(f[1:], " "), "''", ""))
	case f[0] == "list":
		var s *C.char
		if C.dv_list(conn, &s, &code, &msg[0], C.int(len(msg))) < 0 {
			fmt.Fprintf(w, "error: failed to list domains\nerror: %s\n", C.GoString(&msg[0]))
			return
		}
		io.WriteString(w, C.GoString(s))
		C.free(unsafe.Pointer(s))
	case (f[0] == "domstate" || f[0] == "destroy" || f[0] == "start") && len(f) == 2:
		op := map[string]C.int{"domstate": 0, "destroy": 1, "start": 2}[f[0]]
		h := C.CString(f[1])
		defer C.free(unsafe.Pointer(h))
		byUUID := C.int(0)
		if uuidRE.MatchString(f[1]) {
			byUUID = 1
		}
		var state, lookup C.int
		if C.dv_do(conn, h, byUUID, op, &state, &lookup, &code, &msg[0], C.int(len(msg))) < 0 {
			if lookup != 0 {
				fmt.Fprintf(w, "error: failed to get domain '%s'\n", f[1])
			} else if op == 1 {
				fmt.Fprintf(w, "error: Failed to destroy domain '%s'\n", f[1])
			} else if op == 2 {
				fmt.Fprintf(w, "error: Failed to start domain '%s'\n", f[1])
			}
			fmt.Fprintf(w, "error: %s\n", C.GoString(&msg[0]))
			return
		}
		if op == 0 {
			word := "no state"
			if int(state) >= 0 && int(state) < len(virshStateWords) {
				word = virshStateWords[state]
			}
			fmt.Fprintln(w, word)
		}
	default:
		fmt.Fprintf(w, "error: unknown command: '%s'\n", f[0])
	}
}
