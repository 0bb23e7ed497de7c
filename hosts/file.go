package hosts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// BUG(selinux): a file replaced by rename gets its folder's default SELinux
// label and extended attributes, not the old file's; on SELinux systems run
// restorecon /etc/hosts after a change. Where the owner cannot be kept, or
// rename is impossible, banco writes in place, which keeps them.

// BUG(hosts): the one write that is not atomic is the in-place one, used where
// rename cannot replace the file (a bind-mounted hosts file, as in containers,
// or one held open on Windows). If the machine loses power while it writes,
// the file can hold new content up to some point and old content after it.
// Target+PrevSuffix then holds the content before the change.

// TODO(lock): File.Write compares the file with what Read found once more
// just before the rename or in-place write (ErrChanged), which still leaves
// another program a window of a few system calls. An advisory lock would
// close it against a second banco, though not against editors that take none.

// BackupSuffix names the backup of a hosts file: "/etc/hosts.banco.bak". It
// holds the file as it was before banco first changed it, and is never
// overwritten, so it stays the way back to the file before banco. Copying it
// back also throws away every later change, by banco or anyone else.
const BackupSuffix = ".banco.bak"

// PrevSuffix names the copy of a hosts file as it was just before banco's
// latest change: "/etc/hosts.banco.prev", rewritten before every change with
// the file's mode. Copying it back undoes that one change.
const PrevSuffix = ".banco.prev"

// ErrChanged is returned by File.Write when the file on disk no longer holds
// what Read found: another program edited it while banco was editing it.
var ErrChanged = errors.New("the file changed while banco was editing it")

// File is a hosts file read from disk, to be edited with Edit and written
// back with Write.
type File struct {
	Path    string // as given
	Target  string // Path with symbolic links followed: the file read and written
	Content []byte
	info    fs.FileInfo
}

// Read reads the hosts file at path, following symbolic links, and refuses a
// file that is not text banco can edit (see ErrNotText).
func Read(path string) (*File, error) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("read hosts file %s: %w", path, err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("read hosts file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read hosts file %s: %s is not a regular file", path, target)
	}
	b, err := os.ReadFile(target)
	if err != nil {
		return nil, fmt.Errorf("read hosts file %s: %w", path, err)
	}
	if err := checkText(b); err != nil {
		return nil, fmt.Errorf("read hosts file %s: %w", path, err)
	}
	return &File{Path: path, Target: target, Content: b, info: fi}, nil
}

// WriteResult says how File.Write went.
type WriteResult struct {
	Backup  string // backup made by this write; "" when an earlier one exists
	Prev    string // copy of the content before this write (Target+PrevSuffix)
	InPlace bool   // rename was impossible (bind mount, busy file): written in place
}

// fileOps are the disk operations Write goes through, so that tests can make
// a write fail part way, a rename fail as it does on a bind mount, or another
// program edit the file just before banco's last look at it.
type fileOps struct {
	write     func(f *os.File, b []byte) (int, error)
	rename    func(oldpath, newpath string) error
	unchanged func(path string, want []byte) error
}

var ops = fileOps{write: (*os.File).Write, rename: os.Rename, unchanged: unchanged}

// Write replaces the file's content with content, never leaving it empty or
// half-written. First, once, it saves the original as Target+BackupSuffix,
// and before every change the current content as Target+PrevSuffix. Then it
// writes a temporary file in the same folder, syncs it, gives it the
// original's mode and owner, and renames it over Target. Where rename cannot
// work (a bind-mounted or busy file) or the owner cannot be kept, it writes
// the prepared content over the file in place, syncs, and on failure puts the
// original content back. Symbolic links stay: their target is written.
//
// Write refuses with ErrChanged, writing nothing to Target, when the file no
// longer holds what Read found: it checks first, and again just before the
// rename or in-place write, so that an edit made meanwhile is not lost.
func (f *File) Write(content []byte) (WriteResult, error) {
	var res WriteResult
	if err := ops.unchanged(f.Target, f.Content); err != nil {
		return res, fmt.Errorf("write hosts file %s: %w", f.Target, err)
	}

	bak := f.Target + BackupSuffix
	made, err := f.backUp(bak, false)
	if err != nil {
		return res, err
	}
	if made {
		res.Backup = bak
	}
	if _, err := f.backUp(f.Target+PrevSuffix, true); err != nil {
		return res, err
	}
	res.Prev = f.Target + PrevSuffix

	err = f.replace(f.Target, content, true)
	if errors.Is(err, errUseInPlace) {
		res.InPlace = true
		err = writeInPlace(f.Target, content, f.Content)
	}
	if err != nil {
		return res, fmt.Errorf("write hosts file %s: %w", f.Target, err)
	}
	f.Content = content
	return res, nil
}

// backUp saves f.Content as path, through a renamed temporary file, and
// reports whether it did. An existing backup is kept unless overwrite is
// set; a path that holds anything but a regular file is refused, not taken
// for a backup.
func (f *File) backUp(path string, overwrite bool) (bool, error) {
	fi, err := os.Lstat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return false, fmt.Errorf("back up hosts file %s: %s exists and is not a regular file; "+
			"move it away and run again", f.Target, path)
	case err == nil && !overwrite:
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("back up hosts file %s to %s: %w", f.Target, path, err)
	}
	if err := f.replace(path, f.Content, false); err != nil {
		return false, fmt.Errorf("back up hosts file %s to %s: %w", f.Target, path, err)
	}
	return true, nil
}

// unchanged returns ErrChanged when the file at path does not hold want.
func unchanged(path string, want []byte) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, want) {
		return ErrChanged
	}
	return nil
}

// errUseInPlace tells Write that replace could not rename and left nothing.
var errUseInPlace = errors.New("rename impossible; write in place")

// replace writes content to path through a synced temporary file renamed
// into place. With fallback, it returns errUseInPlace where rename cannot
// work or the owner cannot be kept, having removed the temporary file.
func (f *File) replace(path string, content []byte, fallback bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".banco-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // fails harmlessly after a successful rename

	err = writeSynced(tmp, content)
	if err == nil {
		err = tmp.Chmod(f.info.Mode().Perm())
	}
	if err == nil {
		if oerr := keepOwner(tmp, f.info); oerr != nil && fallback {
			err = errUseInPlace
		}
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if path == f.Target {
		if err := ops.unchanged(path, f.Content); err != nil {
			return err
		}
	}
	if err := ops.rename(name, path); err != nil {
		if fallback && renameImpossible(err) {
			return errUseInPlace
		}
		return err
	}
	syncDir(dir)
	return nil
}

// writeSynced writes b from f's current offset, cuts f to that length and
// syncs it to disk.
func writeSynced(f *os.File, b []byte) error {
	n, err := ops.write(f, b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(len(b))); err != nil {
		return err
	}
	return f.Sync()
}

// writeInPlace overwrites path with content without truncating it first, so
// the file is never empty; if that fails part way it writes old back. It
// writes nothing unless the file still holds old.
func writeInPlace(path string, content, old []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	werr := ops.unchanged(path, old)
	if werr != nil {
		_ = f.Close()
		return werr
	}
	werr = writeSynced(f, content)
	if werr != nil {
		_, rerr := f.Seek(0, io.SeekStart)
		if rerr == nil {
			rerr = writeSynced(f, old)
		}
		if rerr != nil {
			werr = fmt.Errorf("%w (putting the old content back failed too: %v; "+
				"copy %s back, which holds the file as it was before this change)",
				werr, rerr, path+PrevSuffix)
		}
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
