package ledger

import (
	"sync"
)

// readCache answers balance reads of a SQLite ledger from memory.
//
// Several Stores, in this process or in others, may write one SQLite file.
// They share a commit counter (see commitCounter): every Store adds one to
// it after each of its commits, before it answers the requests of that
// commit, and once as it opens. A Store's cache is valid while the counter
// stands where this Store last left or checked it: any commit by another
// Store moves it, and the next read then finds the counter moved, clears the
// cache and goes to the database. The writer puts the balances it has just
// committed into the cache; a read that finds nothing fills it from the
// database, unless a commit came in between (gen).
//
// The cache holds nothing that a request could not have seen: a value in it
// is the balance after the last commit that changed the account, as long as
// no other Store has committed since the counter was last checked. A
// commit that another process made and had not yet counted when it died
// was never acknowledged; this Store sees it at its own next commit (the
// writer clears the cache when PRAGMA data_version moves).
type readCache struct {
	ctr *commitCounter // nil: never use the cache

	mu       sync.Mutex
	expected uint64 // the counter as this Store last left or checked it
	gen      uint64 // moves with every change to bal but a fill
	bal      map[int64]Amount
}

func newReadCache(ctr *commitCounter) *readCache {
	c := &readCache{ctr: ctr, bal: map[int64]Amount{}}
	if ctr != nil {
		c.expected = ctr.add()
	}
	return c
}

// check says whether reads may be answered from the cache, clearing it
// first if another Store has committed since it was last checked.
func (c *readCache) check() bool {
	if c.ctr == nil {
		return false
	}
	v := c.ctr.load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if v != c.expected {
		c.clearLocked()
		c.expected = v
	}
	return true
}

// get returns the cached balance of account id, and the generation to pass
// to fill when there is none.
func (c *readCache) get(id int64) (Amount, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.bal[id]
	return b, ok, c.gen
}

// fill records a balance read from the database, unless the cache changed
// since gen (the read may predate a commit published since).
func (c *readCache) fill(id int64, b Amount, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.bal[id] = b
	}
}

// committed counts a commit of this Store's writer and records the
// balances, as in now, of the accounts it changed (the keys of touched);
// with touched nil, it changed balances it cannot name, and the cache is
// cleared.
func (c *readCache) committed(touched, now map[int64]Amount) {
	if c.ctr == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.ctr.add()
	if v-1 != c.expected || touched == nil {
		c.clearLocked() // another Store committed too
	}
	c.expected = v
	c.gen++
	for id := range touched {
		c.bal[id] = now[id]
	}
}

// clear forgets everything.
func (c *readCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *readCache) clearLocked() {
	c.gen++
	clear(c.bal)
}

func (c *readCache) close() error {
	if c.ctr == nil {
		return nil
	}
	return c.ctr.close()
}
