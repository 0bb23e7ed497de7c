package ca

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// readLockWait bounds how long ReadRevoked waits for another process's lock
// on the CA database: a bank server asks often and must not stall.
const readLockWait = 100 * time.Millisecond

// ReadRevoked returns the decimal serials that the CA database in dir marks
// revoked, for a bank server running beside the CA. It opens the database
// read-only for the duration of the call only: the shared lock lets other
// readers in, and an offline command that needs the database for writing
// (banco revoke, enroll) waits at most a moment for it. It returns an error
// wrapping ErrLocked while a writer holds the database, usually banco ca
// serve, whose CRL the caller should then fetch instead.
func ReadRevoked(dir string) (map[string]bool, error) {
	path := filepath.Join(dir, DBDir, DBFile)
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: readLockWait, ReadOnly: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("read revocations from %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("read revocations from %s: %w", path, err)
	}
	defer b.Close()
	revoked := map[string]bool{}
	err = b.View(func(tx *bolt.Tx) error {
		bucket := tx.Bucket(revokedTable)
		if bucket == nil {
			return nil // the engine makes the table on first use
		}
		return bucket.ForEach(func(k, _ []byte) error {
			revoked[string(k)] = true
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read revocations from %s: %w", path, err)
	}
	return revoked, nil
}
