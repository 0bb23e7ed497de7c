//go:build !unix

package ledger

// commitCounter is not available here: a Store never trusts its read cache.
//
// TODO(ledger): a file mapping (CreateFileMapping) could share the counter
// on Windows; without it balance reads there always go to the database.
type commitCounter struct{}

func openCommitCounter(string) (*commitCounter, error) { return nil, nil }
func (*commitCounter) load() uint64                    { return 0 }
func (*commitCounter) add() uint64                     { return 0 }
func (*commitCounter) close() error                    { return nil }
