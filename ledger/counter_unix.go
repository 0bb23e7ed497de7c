//go:build unix

package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// commitCounter is a number that every Store on one SQLite file, in any
// process, can read and increase without a system call: the first eight
// bytes of a small file beside the ledger (its path plus "-banco-commits"),
// mapped into memory shared by all the processes that map it.
type commitCounter struct {
	f *os.File
	m []byte
	n *uint64
}

const counterSize = 8

func openCommitCounter(ledgerPath string) (*commitCounter, error) {
	// Every Store on the file must find the same counter, whatever name it
	// was given: through a symbolic link, or a relative path, it is still
	// the same ledger (SQLite resolves links likewise for its WAL file).
	// Hard links are not supported, by SQLite either: each name would get
	// its own WAL file.
	if real, err := filepath.EvalSymlinks(ledgerPath); err == nil {
		ledgerPath = real
	}
	path := ledgerPath + "-banco-commits"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open commit counter: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < counterSize {
		// Growing it with zeros is harmless even if another process
		// does the same at once: a new file's counter starts at zero.
		err = f.Truncate(counterSize)
	}
	var m []byte
	if err == nil {
		m, err = syscall.Mmap(int(f.Fd()), 0, counterSize, syscall.PROT_READ|syscall.PROT_WRITE,
			syscall.MAP_SHARED)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("map commit counter %s: %w", path, err)
	}
	// mmap returns page-aligned memory, so the word is aligned for atomics.
	return &commitCounter{f: f, m: m, n: (*uint64)(unsafe.Pointer(&m[0]))}, nil
}

func (c *commitCounter) load() uint64 { return atomic.LoadUint64(c.n) }
func (c *commitCounter) add() uint64  { return atomic.AddUint64(c.n, 1) }

func (c *commitCounter) close() error {
	err := syscall.Munmap(c.m)
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	return err
}
