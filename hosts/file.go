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

// TODO(lock): two banco processes editing at once are caught by the content
// check in File.Write (ErrChanged), not prevented by a lock; an advisory lock
// on the file would close the gap between that check and the rename.

// BackupSuffix names the backup of a hosts file: "/etc/hosts.banco.bak". It
// holds the file as it was before banco first changed it, and is never
// overwritten, so it stays the way back to the file before banco.
const BackupSuffix = ".banco.bak"

// ErrChanged is returned by File.Write when the file on disk no longer holds
// what Read found: someone else edited it meanwhile.
var ErrChanged = errors.New("file changed since banco read it")

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
	InPlace bool   // rename was impossible (bind mount, busy file): written in place
}

// fileOps are the disk operations Write goes through, so that tests can make
// a write fail part way or a rename fail as it does on a bind mount.
type fileOps struct {
	write  func(f *os.File, b []byte) (int, error)
	rename func(oldpath, newpath string) error
}

var ops = fileOps{write: (*os.File).Write, rename: os.Rename}

// Write replaces the file's content with content, never leaving it empty or
// half-written. First, once, it saves the original as Target+BackupSuffix.
// Then it writes a temporary file in the same folder, syncs it, gives it the
// original's mode and owner, and renames it over Target. Where rename cannot
// work (a bind-mounted or busy file) or the owner cannot be kept, it writes
// the prepared content over the file in place, syncs, and on failure puts the
// original content back. Symbolic links stay: their target is written.
func (f *File) Write(content []byte) (WriteResult, error) {
	var res WriteResult
	cur, err := os.ReadFile(f.Target)
	if err != nil {
		return res, fmt.Errorf("write hosts file %s: %w", f.Target, err)
	}
	if !bytes.Equal(cur, f.Content) {
		return res, fmt.Errorf("write hosts file %s: %w", f.Target, ErrChanged)
	}

	bak := f.Target + BackupSuffix
	if _, err := os.Lstat(bak); errors.Is(err, fs.ErrNotExist) {
		if err := f.replace(bak, f.Content, false); err != nil {
			return res, fmt.Errorf("back up hosts file %s to %s: %w", f.Target, bak, err)
		}
		res.Backup = bak
	} else if err != nil {
		return res, fmt.Errorf("back up hosts file %s: %w", f.Target, err)
	}

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
// the file is never empty; if that fails part way it writes old back.
func writeInPlace(path string, content, old []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	werr := writeSynced(f, content)
	if werr != nil {
		_, rerr := f.Seek(0, io.SeekStart)
		if rerr == nil {
			rerr = writeSynced(f, old)
		}
		if rerr != nil {
			werr = fmt.Errorf("%w (putting the original back failed too: %v; copy the backup %s back)",
				werr, rerr, path+BackupSuffix)
		}
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}
