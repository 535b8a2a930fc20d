//go:build !(cgo && linux)

package virtd

import (
	"errors"
	"io"
)

// haveLibvirtHelper: this build cannot run the libvirt helper (it needs cgo); the backend uses virsh.
const haveLibvirtHelper = false

// RunLibvirtHelper is not available without cgo.
func RunLibvirtHelper(uri string, in io.Reader, out io.Writer) error {
	return errors.New("libvirt helper: fence_virtd was built without cgo")
}
