package secfile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

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
