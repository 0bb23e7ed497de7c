//go:build !windows

package secfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWritePrivateIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "keys")
	path := filepath.Join(dir, "k.key")
	if err := WritePrivate(path, []byte("secret"), false); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}
	if err := CheckPrivate(path); err != nil {
		t.Errorf("CheckPrivate on a fresh key: %v", err)
	}
}
