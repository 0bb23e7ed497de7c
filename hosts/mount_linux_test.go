package hosts

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// bindMount mounts src over dst, as containers mount /etc/hosts, and
// unmounts it at the end of the test; it skips without the right to mount.
func bindMount(t *testing.T, src, dst string, readOnly bool) {
	t.Helper()
	if err := syscall.Mount(src, dst, "", syscall.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here (needs root, CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dst, 0); err != nil {
			t.Errorf("unmount %s: %v", dst, err)
		}
	})
	if readOnly {
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
		if err := syscall.Mount("", dst, "", flags, ""); err != nil {
			t.Skipf("cannot remount read-only: %v", err)
		}
	}
}

func TestWriteBindMounted(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "real-hosts")
	if err := os.WriteFile(src, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	p := writeHostsFile(t, dir, "placeholder\n")
	bindMount(t, src, p, false)

	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	want := added(t, f.Content)
	res, err := f.Write(want)
	if err != nil {
		t.Fatal(err)
	}
	if !res.InPlace {
		t.Errorf("rename over a bind mount worked? %+v", res)
	}
	if got := readString(t, src); got != string(want) {
		t.Errorf("mounted file holds %q, want %q", got, want)
	}
	assertNoTemp(t, dir)
}

func TestWriteReadOnlyMount(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "real-hosts")
	if err := os.WriteFile(src, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}
	p := writeHostsFile(t, dir, "placeholder\n")
	bindMount(t, src, p, true)

	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(added(t, f.Content))
	if !IsReadOnlyFS(err) {
		t.Fatalf("Write: %v, want a read-only file system error", err)
	}
	if got := readString(t, src); got != original {
		t.Errorf("file changed to %q", got)
	}
	assertNoTemp(t, dir)
}
