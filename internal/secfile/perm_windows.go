//go:build windows

package secfile

import (
	"errors"
	"fmt"
	"os"
)

// CheckPrivate only checks that path exists on Windows: access there is
// governed by ACLs, which Unix permission bits do not describe.
//
// TODO(windows-acl): check the file's DACL for access by other users; the
// profile folder's inherited ACL is what protects keys on Windows today.
func CheckPrivate(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("read private key: %w", err)
	}
	return nil
}

func isUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
