//go:build !windows

package secfile

import (
	"fmt"
	"os"
)

// CheckPrivate returns a *PermError if path can be read or written by anyone
// but its owner. Like ssh, banco refuses such keys rather than use them.
func CheckPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("read private key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &PermError{Path: path, Mode: fi.Mode()}
	}
	return nil
}

func isUnsupported(error) bool { return false }
