//go:build !windows

package hosts

import (
	"os"
	"syscall"
	"testing"
)

// TestWriteKeepsOwner needs root to give the file away first; as root,
// Write must chown the renamed file back to the original's owner.
func TestWriteKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a file owned by someone else")
	}
	dir := tempDir(t)
	p := writeHostsFile(t, dir, original)
	const uid, gid = 65534, 65534 // nobody, nogroup
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(added(t, f.Content)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{p, p + BackupSuffix} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", name, st.Uid, st.Gid, uid, gid)
		}
	}
}
