// Package secfile writes and checks files that hold secrets: private keys
// 0600 in folders 0700 whatever the umask, written whole or not at all, and
// never overwritten by accident.
package secfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned when a file would be overwritten without force.
var ErrExists = errors.New("file already exists")

// PermError reports a private key that other users can read or write.
type PermError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermError) Error() string {
	return fmt.Sprintf("private key %s is accessible by others (mode %04o)", e.Path, e.Mode.Perm())
}

// MkdirPrivate creates dir and its missing parents, and makes dir itself 0700
// even where the umask or an earlier run left it wider.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// Write writes data to path with mode perm, through a temporary file in the
// same folder that is synced and renamed into place, so path holds either its
// old content or all of data. Without force an existing path is refused with
// an error wrapping ErrExists.
func Write(path string, data []byte, perm fs.FileMode, force bool) error {
	if !force {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("write %s: %w", path, ErrExists)
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename

	// CreateTemp makes the file 0600; Chmod sets perm exactly, ignoring umask.
	if err := tmp.Chmod(perm); err != nil && !isUnsupported(err) {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WritePrivate writes a secret (a private key) with mode 0600, creating its
// folder 0700 if needed.
func WritePrivate(path string, data []byte, force bool) error {
	if err := MkdirPrivate(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return Write(path, data, 0o600, force)
}

// ReadPrivate reads a private key file after checking that only its owner
// can access it.
func ReadPrivate(path string) ([]byte, error) {
	if err := CheckPrivate(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}
