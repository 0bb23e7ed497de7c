//go:build !windows

package hosts

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// DefaultNewLine ends the lines banco writes in a file that has none yet.
const DefaultNewLine = "\n"

// MaxNamesPerLine caps the names on each line banco writes (0: no cap).
const MaxNamesPerLine = 0

// DefaultPath returns the hosts file the system resolver reads.
func DefaultPath() (string, error) { return "/etc/hosts", nil }

// ElevateHint tells how to run command with the rights to edit the hosts file.
func ElevateHint(command string) string {
	return "the hosts file belongs to the system; run it as root: sudo " + command
}

// IsReadOnlyFS reports whether err comes from a read-only file system.
func IsReadOnlyFS(err error) bool { return errors.Is(err, syscall.EROFS) }

// renameImpossible reports a rename refused because the target is a mount
// point (EBUSY: a bind-mounted /etc/hosts, as in containers) or on another
// file system (EXDEV).
func renameImpossible(err error) bool {
	return errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.EXDEV)
}

// keepOwner gives f the owner and group of the file described by orig.
func keepOwner(f *os.File, orig fs.FileInfo) error {
	want, ok := orig.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if got, ok := fi.Sys().(*syscall.Stat_t); ok && got.Uid == want.Uid && got.Gid == want.Gid {
		return nil
	}
	return f.Chown(int(want.Uid), int(want.Gid))
}

// syncDir makes a rename in dir durable; best effort, as some file systems
// refuse to sync a folder.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
