package secfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

func TestWritePrivateIgnoresUmask(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
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

func TestWriteRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.key")
	if err := WritePrivate(path, []byte("one"), false); err != nil {
		t.Fatal(err)
	}
	err := WritePrivate(path, []byte("two"), false)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second write: %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("content changed to %q", b)
	}
	if err := WritePrivate(path, []byte("two"), true); err != nil {
		t.Fatalf("forced write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("forced write left %q", b)
	}
}

func TestCheckPrivateRefusesReadableKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits do not apply on Windows")
	}
	path := filepath.Join(t.TempDir(), "k.key")
	if err := os.WriteFile(path, []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	var pe *PermError
	if err := CheckPrivate(path); !errors.As(err, &pe) {
		t.Fatalf("CheckPrivate: %v, want *PermError", err)
	}
	if _, err := ReadPrivate(path); !errors.As(err, &pe) {
		t.Fatalf("ReadPrivate: %v, want *PermError", err)
	}
}
