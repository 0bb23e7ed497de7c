package hosts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

const original = "127.0.0.1 localhost\n# keep me\n10.0.0.1 files\n"

func writeHostsFile(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "hosts")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func added(t *testing.T, content []byte) []byte {
	t.Helper()
	out, _, err := Edit(content, add("banco.local"))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// faults replaces the disk operations for one test: the write numbered
// failWrite (from 1) writes half its bytes and fails; a rename over the
// hosts file (not its backups) fails with renameErr when set.
func faults(t *testing.T, failWrite int, renameErr error) {
	t.Helper()
	saved := ops
	t.Cleanup(func() { ops = saved })
	n := 0
	ops.write = func(f *os.File, b []byte) (int, error) {
		n++
		if n == failWrite {
			k, _ := f.Write(b[:len(b)/2])
			return k, fmt.Errorf("injected fault after %d bytes: %w", k, syscall.ENOSPC)
		}
		return f.Write(b)
	}
	if renameErr != nil {
		ops.rename = func(oldpath, newpath string) error {
			if filepath.Base(newpath) != "hosts" {
				return saved.rename(oldpath, newpath)
			}
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: renameErr}
		}
	}
}

func TestWrite(t *testing.T) {
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	want := added(t, f.Content)
	res, err := f.Write(want)
	if err != nil {
		t.Fatal(err)
	}
	if got := readString(t, p); got != string(want) {
		t.Errorf("file holds %q, want %q", got, want)
	}
	if res.Backup != p+BackupSuffix || res.Prev != p+PrevSuffix || res.InPlace {
		t.Errorf("result %+v, want backup %s, previous %s and a rename", res, p+BackupSuffix,
			p+PrevSuffix)
	}
	for _, name := range []string{p + BackupSuffix, p + PrevSuffix} {
		if got := readString(t, name); got != original {
			t.Errorf("%s holds %q, want the original", name, got)
		}
	}
	after, _ := os.Stat(p)
	// wine does not keep file identities apart after a rename; skip there.
	if runtime.GOOS != "windows" && os.SameFile(before, after) {
		t.Errorf("file replaced in place, want a rename of a new file")
	}
	if runtime.GOOS != "windows" && after.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", after.Mode())
	}
	assertOnly(t, dir, "hosts", "hosts"+BackupSuffix, "hosts"+PrevSuffix)

	// A second change keeps the first backup: it is the file before banco.
	f2, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := Edit(f2.Content, remove("banco.local"))
	if err != nil {
		t.Fatal(err)
	}
	res, err = f2.Write(out)
	if err != nil || res.Backup != "" {
		t.Fatalf("second write: %+v, %v", res, err)
	}
	if got := readString(t, p); got != original {
		t.Errorf("after remove the file holds %q, want the original", got)
	}
	if got := readString(t, p+BackupSuffix); got != original {
		t.Errorf("backup changed to %q", got)
	}
	if got := readString(t, p+PrevSuffix); got != string(want) {
		t.Errorf("previous content %q, want %q", got, want)
	}
}

// TestWritePrev: the backup is the file before banco; the restore point for
// one change is PATH.banco.prev, which keeps what others added meanwhile.
func TestWritePrev(t *testing.T) {
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	edit := func(op Op) {
		t.Helper()
		f, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := Edit(f.Content, op)
		if err != nil {
			t.Fatal(err)
		}
		before := string(f.Content)
		res, err := f.Write(out)
		if err != nil || res.Prev != p+PrevSuffix {
			t.Fatalf("Write: %+v, %v", res, err)
		}
		if got := readString(t, p+PrevSuffix); got != before {
			t.Fatalf("%s holds %q, want %q", p+PrevSuffix, got, before)
		}
	}
	edit(add("banco.local"))
	byHand := readString(t, p) + "10.0.0.7 added.by.hand\n"
	if err := os.WriteFile(p, []byte(byHand), 0o644); err != nil {
		t.Fatal(err)
	}
	edit(add("api.banco.local"))
	if got := readString(t, p+PrevSuffix); got != byHand {
		t.Errorf("%s holds %q, want the file before the last change %q", p+PrevSuffix, got, byHand)
	}
	if got := readString(t, p+BackupSuffix); got != original {
		t.Errorf("backup holds %q, want the original", got)
	}
}

// TestWriteRefusesBackupFolder: a folder (or anything but a regular file)
// where a backup goes is not a backup.
func TestWriteRefusesBackupFolder(t *testing.T) {
	for _, suffix := range []string{BackupSuffix, PrevSuffix} {
		t.Run(suffix, func(t *testing.T) {
			dir := tempDir(t)
			p := writeHostsFile(t, dir, original)
			if err := os.Mkdir(p+suffix, 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Write(added(t, f.Content))
			want := p + suffix + " exists and is not a regular file"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Write: %v, want a refusal naming %s", err, p+suffix)
			}
			if got := readString(t, p); got != original {
				t.Errorf("file changed to %q", got)
			}
			assertNoTemp(t, dir)
		})
	}
}

func TestWriteKeepsMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows files have no Unix mode bits")
	}
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(added(t, f.Content)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{p, p + BackupSuffix, p + PrevSuffix} {
		if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s mode %v, want 0640", name, fi.Mode())
		}
	}
}

// TestWriteFaults makes writes fail part way and renames fail as they do on
// a bind mount: the file must hold its old content or all of the new one.
func TestWriteFaults(t *testing.T) {
	busy := syscall.EBUSY
	if runtime.GOOS == "windows" {
		busy = syscall.Errno(32) // ERROR_SHARING_VIOLATION
	}
	tests := []struct {
		name string
		// after a backup exists: 1 previous, 2 temporary file, 3 in place, 4 putting back
		failWrite int
		renameErr error
		wantErr   bool
		inPlace   bool
	}{
		{"fail/backup write", 1, nil, true, false},
		{"fail/previous content write", 1, nil, true, false},
		{"fail/temporary file write", 2, nil, true, false},
		{"fail/rename refused", 0, syscall.EINVAL, true, false},
		{"ok/bind mount written in place", 0, busy, false, true},
		{"fail/in-place write part way, original put back", 3, busy, true, true},
		{"fail/in-place write and restore fail", 3, busy, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			p := writeHostsFile(t, dir, original)
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := os.Stat(p)
			if !strings.Contains(tt.name, "backup") {
				// Make the backup first, so that the faults hit the change.
				if _, err := f.Write(f.Content); err != nil {
					t.Fatal(err)
				}
				before, _ = os.Stat(p)
			}
			faults(t, tt.failWrite, tt.renameErr)
			if strings.Contains(tt.name, "restore fail") {
				failFrom(t, tt.failWrite)
			}

			want := added(t, f.Content)
			res, err := f.Write(want)
			got := readString(t, p)
			switch {
			case tt.wantErr && err == nil:
				t.Fatalf("Write succeeded, want an error")
			case !tt.wantErr && err != nil:
				t.Fatalf("Write: %v", err)
			case err != nil && !strings.Contains(err.Error(), p):
				t.Errorf("error %q does not name %s", err, p)
			}
			if strings.Contains(tt.name, "restore fail") {
				if !strings.Contains(err.Error(), "copy "+p+PrevSuffix+" back") {
					t.Errorf("error %q does not point to the content before the change", err)
				}
				if b := readString(t, p+PrevSuffix); b != original {
					t.Errorf("%s holds %q", p+PrevSuffix, b)
				}
				return
			}
			if tt.wantErr && got != original {
				t.Errorf("after a failed write the file holds %q, want the original", got)
			}
			if !tt.wantErr && got != string(want) {
				t.Errorf("file holds %q, want %q", got, want)
			}
			if res.InPlace != tt.inPlace {
				t.Errorf("InPlace = %v", res.InPlace)
			}
			if after, _ := os.Stat(p); tt.inPlace && !os.SameFile(before, after) {
				t.Errorf("in-place write replaced the file")
			}
			assertNoTemp(t, dir)
		})
	}
}

// failFrom makes every write from the n-th on fail without writing.
func failFrom(t *testing.T, n int) {
	inner := ops.write
	k := 0
	ops.write = func(f *os.File, b []byte) (int, error) {
		k++
		if k > n {
			return 0, errors.New("injected: disk gone")
		}
		return inner(f, b)
	}
}

func TestWritePermissionDenied(t *testing.T) {
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	saved := ops
	t.Cleanup(func() { ops = saved })
	ops.write = func(f *os.File, b []byte) (int, error) {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: fs.ErrPermission}
	}
	_, err = f.Write(added(t, f.Content))
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), p) {
		t.Errorf("error %v, want a permission error naming %s", err, p)
	}
	if got := readString(t, p); got != original {
		t.Errorf("file changed to %q", got)
	}
	assertNoTemp(t, dir)
}

func TestIsReadOnlyFS(t *testing.T) {
	if runtime.GOOS == "windows" {
		if !IsReadOnlyFS(&fs.PathError{Op: "open", Path: "x", Err: syscall.Errno(19)}) {
			t.Error("ERROR_WRITE_PROTECT not seen as read-only")
		}
		return
	}
	if !IsReadOnlyFS(fmt.Errorf("write: %w", &fs.PathError{Op: "open", Err: syscall.EROFS})) {
		t.Error("EROFS not seen as read-only")
	}
	if IsReadOnlyFS(fs.ErrPermission) {
		t.Error("a permission error seen as read-only")
	}
}

func TestWriteRefusesChangedFile(t *testing.T) {
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	other := original + "10.0.0.2 added.meanwhile\n"
	if err := os.WriteFile(p, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(added(t, f.Content)); !errors.Is(err, ErrChanged) {
		t.Fatalf("Write: %v, want ErrChanged", err)
	}
	if got := readString(t, p); got != other {
		t.Errorf("file holds %q, want the other program's content", got)
	}
}

// TestWriteRefusesChangeWhileWriting lets another program edit the file after
// banco's first check: while banco writes its temporary file, or at the last
// moment before the rename or the in-place write. Its edit must survive.
func TestWriteRefusesChangeWhileWriting(t *testing.T) {
	busy := syscall.EBUSY
	if runtime.GOOS == "windows" {
		busy = syscall.Errno(32) // ERROR_SHARING_VIOLATION
	}
	tests := []struct {
		name      string
		atCheck   int // edit at this call of the content check; 0: during the temporary write
		renameErr error
	}{
		{"during the temporary file write", 0, nil},
		{"just before the rename", 2, nil},
		{"just before the in-place write", 3, busy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tempDir(t)
			p := writeHostsFile(t, dir, original)
			f, err := Read(p)
			if err != nil {
				t.Fatal(err)
			}
			other := original + "10.0.0.2 added.meanwhile\n"
			meddle := func() {
				if err := os.WriteFile(p, []byte(other), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			faults(t, 0, tt.renameErr)
			write, check := ops.write, ops.unchanged
			ops.write = func(w *os.File, b []byte) (int, error) {
				if tt.atCheck == 0 && strings.HasPrefix(filepath.Base(w.Name()), ".hosts.banco-") {
					meddle()
				}
				return write(w, b)
			}
			n := 0
			ops.unchanged = func(path string, want []byte) error {
				if n++; n == tt.atCheck {
					meddle()
				}
				return check(path, want)
			}

			_, err = f.Write(added(t, f.Content))
			if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), p) ||
				!strings.Contains(err.Error(), "changed while banco was editing it") {
				t.Fatalf("Write: %v, want ErrChanged naming %s", err, p)
			}
			if got := readString(t, p); got != other {
				t.Errorf("file holds %q, want the other program's content", got)
			}
			assertNoTemp(t, dir)
		})
	}
}

func TestWriteFollowsSymlink(t *testing.T) {
	dir := tempDir(t)
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	target := writeHostsFile(t, filepath.Join(dir, "real"), original)
	link := filepath.Join(dir, "hosts")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if _, err := os.Stat(link); err != nil {
		// wine 8 creates the link but cannot follow it.
		t.Skipf("symbolic links cannot be followed here: %v", err)
	}
	f, err := Read(link)
	if err != nil {
		t.Fatal(err)
	}
	if f.Target != target {
		t.Errorf("Target = %s, want %s", f.Target, target)
	}
	want := added(t, f.Content)
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("link gone: %v, %v", fi, err)
	}
	if got := readString(t, target); got != string(want) {
		t.Errorf("target holds %q, want %q", got, want)
	}
	if _, err := os.Stat(target + BackupSuffix); err != nil {
		t.Errorf("no backup beside the target: %v", err)
	}
}

func TestReadRefuses(t *testing.T) {
	dir := tempDir(t)
	p := writeHostsFile(t, dir, string(readTestdata(t, "utf16.hosts")))
	if _, err := Read(p); !errors.Is(err, ErrNotText) || !strings.Contains(err.Error(), p) {
		t.Errorf("Read UTF-16: %v, want ErrNotText naming the file", err)
	}
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read folder: %v", err)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read missing: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	p, err := DefaultPath()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DefaultPath() = %s", p)
	if runtime.GOOS != "windows" {
		if p != "/etc/hosts" {
			t.Errorf("DefaultPath = %s", p)
		}
		return
	}
	if !strings.HasSuffix(strings.ToLower(p), `\drivers\etc\hosts`) {
		t.Errorf("DefaultPath = %s, want ...\\drivers\\etc\\hosts", p)
	}
	if _, err := os.Stat(filepath.Dir(p)); err != nil {
		t.Errorf("DefaultPath's folder: %v", err)
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("folder holds %v, want %v", got, names)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".banco-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
