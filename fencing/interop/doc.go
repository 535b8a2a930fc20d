// Package interop holds the side-by-side tests of Duet's fence_xvm and fence_virtd against Debian's
// fence-virt and fence-virtd, run inside network namespaces (root tests: DUET_ROOT_TESTS=1). It has no
// non-test code.
package interop
