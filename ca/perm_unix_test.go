//go:build !windows

package ca

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/banco/banco/internal/secfile"
)

func TestPermissionsIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	info := newCA(t, KeyEC)
	for p, want := range map[string]os.FileMode{
		info.Dir: 0o700, filepath.Dir(info.DB): 0o700,
		info.RootKey: 0o600, info.IntermediateKey: 0o600, info.Config: 0o600, info.DB: 0o600,
	} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %04o, want %04o", p, got, want)
		}
	}

	if err := os.Chmod(info.IntermediateKey, 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *secfile.PermError
	if _, err := Open(info.Dir, testPassword); !errors.As(err, &pe) {
		t.Errorf("Open with a readable key: %v, want *secfile.PermError", err)
	}
}
