package hosts

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tempDir makes a temporary folder removed at the end of the test. Unlike
// t.TempDir it removes files one by one, because os.RemoveAll fails under
// wine 8 ("Invalid function"), where these tests also run as a Windows binary.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "banco-hosts-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var paths []string
		_ = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		slices.Reverse(paths) // children before their folder
		for _, p := range paths {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Errorf("clean up: %v", err)
			}
		}
	})
	return dir
}
