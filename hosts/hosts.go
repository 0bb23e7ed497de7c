// Package hosts edits a hosts file (/etc/hosts, or the Windows one) the way a
// careful administrator would, so that names such as banco.local resolve.
//
// banco owns one marked block in the file and never changes a byte outside it:
//
//	# BEGIN banco (managed by banco hosts; changes here are overwritten)
//	127.0.0.1 banco.local
//	::1 banco.local
//	# END banco
//
// The block is whole lines, from the BEGIN line to the END line and its line
// ending, in the file's own line-ending style. A new block goes at the end of
// the file; when the file's last line has no line ending, the block goes just
// before that line instead, as adding one would change a byte that is not
// banco's. Every byte outside the block stays as it was, whatever the edit:
// removing the block gives the file with exactly those lines cut out, so add
// then remove gives back the original file byte for byte.
//
// Edit and Inspect are pure functions over the file's bytes (and fuzzed);
// Read and File.Write do the disk work: backup, temporary file, sync, rename.
// The package never prints, prompts or runs programs: showing the change,
// asking for confirmation and flushing DNS caches are left to the caller.
package hosts

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Kind says what an Op does.
type Kind int

const (
	// Add makes banco's block map each name to exactly the given addresses.
	Add Kind = iota + 1
	// Remove takes the names out of banco's block, and the block when empty.
	Remove
)

// Op is one change to banco's block.
type Op struct {
	Kind  Kind
	Names []string     // host names, compared without regard to case
	Addrs []netip.Addr // for Add: every name maps to each of these

	// Force adds names even when a line outside the block maps them.
	Force bool
	// NewLine is the line ending for a file that has none yet ("" means "\n").
	NewLine string
	// MaxNames caps the names on each line banco writes (0: no cap).
	MaxNames int
}

// Entry is one name-to-address mapping in banco's block.
type Entry struct {
	Name string `json:"name"`
	Addr string `json:"address"`
	Line int    `json:"line"`
}

// Mapping is a line outside banco's block that maps some of the names asked
// about: banco reports such lines and never changes them.
type Mapping struct {
	Line  int      `json:"line"`
	Addr  string   `json:"address"`
	Names []string `json:"names"`
	Text  string   `json:"text"`
}

// Changes says what Edit did, or found.
type Changes struct {
	Added   []Entry   // mappings new in the block
	Removed []Entry   // mappings gone from the block
	Outside []Mapping // lines outside the block that map the op's names
}

// Changed reports whether the content changed.
func (c Changes) Changed() bool { return len(c.Added)+len(c.Removed) > 0 }

// ConflictError is returned by an Add without Force that would change the
// file while lines outside banco's block map some of the names. An Add that
// would change nothing, because the block or lines outside it already map
// every name to every address asked for, is no conflict: Edit then reports
// those lines in Changes.Outside and returns the content as it was.
type ConflictError struct {
	Lines []Mapping
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, m := range e.Lines {
		parts = append(parts, fmt.Sprintf("line %d %q", m.Line, m.Text))
	}
	return "already mapped outside banco's block: " + strings.Join(parts, ", ")
}

// Edit applies op to the content of a hosts file and returns the new content.
// When nothing changes it returns content itself, so callers can skip writing.
// Bytes outside banco's block never change; when the block is removed, the
// file is exactly as it was before the block was added (a block that was
// already there goes with its own lines only).
func Edit(content []byte, op Op) ([]byte, Changes, error) {
	if err := op.check(); err != nil {
		return content, Changes{}, err
	}
	d, err := parse(content)
	if err != nil {
		return content, Changes{}, err
	}
	ch := Changes{Outside: d.outside(op.Names)}
	keep := op.Addrs
	if op.Kind == Remove {
		keep = nil
	}
	ch.Removed = d.drop(op.Names, keep)
	if op.Kind == Add {
		ch.Added = d.add(op)
	}
	if !ch.Changed() {
		return content, ch, nil
	}
	// The conflict check comes after the "nothing to do" one: a file that
	// already says what the add asks for is left alone, wherever it says so.
	if op.Kind == Add && len(ch.Outside) > 0 && !op.Force {
		if len(ch.Removed) == 0 && mappedOutside(ch.Added, ch.Outside) {
			return content, Changes{Outside: ch.Outside}, nil
		}
		return content, Changes{Outside: ch.Outside}, &ConflictError{Lines: ch.Outside}
	}
	d.dropEmptyBlock()
	return d.bytes(), ch, nil
}

// mappedOutside reports whether lines outside the block already map every
// one of the entries.
func mappedOutside(entries []Entry, outside []Mapping) bool {
	for _, e := range entries {
		found := slices.ContainsFunc(outside, func(m Mapping) bool {
			return m.Addr == e.Addr && hasName(m.Names, e.Name)
		})
		if !found {
			return false
		}
	}
	return true
}

func (op Op) check() error {
	if op.Kind != Add && op.Kind != Remove {
		return errors.New("edit hosts: unknown operation")
	}
	if len(op.Names) == 0 {
		return errors.New("edit hosts: no names given")
	}
	for _, n := range op.Names {
		if err := CheckName(n); err != nil {
			return err
		}
	}
	if op.Kind == Add && len(op.Addrs) == 0 {
		return errors.New("edit hosts: no addresses given")
	}
	for _, a := range op.Addrs {
		if !a.IsValid() {
			return errors.New("edit hosts: invalid address")
		}
	}
	return nil
}

// CheckName checks that name can be written to a hosts file: letters,
// digits, '-', '_' and '.', in labels of 1 to 63 characters (RFC 1123 §2.1,
// with '_' allowed as resolvers do), at most 253 characters in all.
func CheckName(name string) error {
	bad := func(why string) error { return fmt.Errorf("host name %q: %s", name, why) }
	if name == "" || len(name) > 253 {
		return bad("must have 1 to 253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 {
			return bad("each dot-separated part must have 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return bad("a part cannot start or end with '-'")
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || r >= '0' && r <= '9' ||
				r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
			if !ok {
				return bad(fmt.Sprintf("character %q is not allowed", r))
			}
		}
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("is an address, not a name")
	}
	return nil
}

// outside lists lines outside the block that map any of names.
func (d *doc) outside(names []string) []Mapping {
	var out []Mapping
	for i, l := range d.lines {
		if !d.outsideBlock(i) {
			continue
		}
		e, ok := parseEntry(l.text)
		if !ok || !slices.ContainsFunc(e.names, func(n string) bool { return hasName(names, n) }) {
			continue
		}
		out = append(out, Mapping{Line: i + 1, Addr: e.addr.String(), Names: e.names, Text: l.text})
	}
	return out
}

// drop removes from the block every mapping of names to an address not in
// keep, and returns what it removed. Lines left without names go.
func (d *doc) drop(names []string, keep []netip.Addr) []Entry {
	if d.begin < 0 {
		return nil
	}
	var removed []Entry
	end := d.end
	lines := slices.Clone(d.lines[:d.begin+1])
	for i := d.begin + 1; i < len(d.lines); i++ {
		l := d.lines[i]
		e, ok := parseEntry(l.text)
		if !ok || i >= end || slices.Contains(keep, e.addr) {
			lines = append(lines, l)
			continue
		}
		var left []string
		for _, n := range e.names {
			if hasName(names, n) {
				removed = append(removed, Entry{Name: n, Addr: e.addr.String(), Line: i + 1})
			} else {
				left = append(left, n)
			}
		}
		switch {
		case len(left) == len(e.names):
			lines = append(lines, l)
		case len(left) > 0:
			e.names = left
			lines = append(lines, line{text: e.render(), eol: l.eol})
		default:
			d.end--
		}
	}
	d.lines = lines
	return removed
}

// add maps each of op's names to each of its addresses inside the block,
// creating the block at the end of the file when there is none.
func (d *doc) add(op Op) []Entry {
	var added []Entry
	for _, a := range op.Addrs {
		var missing []string
		for _, n := range op.Names {
			if !d.blockMaps(n, a) && !hasName(missing, n) {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			continue
		}
		for _, n := range missing {
			added = append(added, Entry{Name: n, Addr: a.String()})
		}
		d.ensureBlock(op.NewLine)
		missing = d.appendToLine(a, missing, op.MaxNames)
		for len(missing) > 0 {
			k := len(missing)
			if op.MaxNames > 0 && k > op.MaxNames {
				k = op.MaxNames
			}
			e := entry{addrText: a.String(), names: missing[:k]}
			d.lines = slices.Insert(d.lines, d.end, line{text: e.render(), eol: d.lines[d.begin].eol})
			d.end++
			missing = missing[k:]
		}
	}
	for i := range added {
		added[i].Line = d.lineOf(added[i])
	}
	return added
}

// appendToLine puts names on the block's last plain line for a, as far as
// maxNames allows, and returns the names that did not fit.
func (d *doc) appendToLine(a netip.Addr, names []string, maxNames int) []string {
	for i := d.end - 1; i > d.begin; i-- {
		e, ok := parseEntry(d.lines[i].text)
		if !ok || e.addr != a || e.comment != "" {
			continue
		}
		k := len(names)
		if maxNames > 0 {
			k = min(k, max(0, maxNames-len(e.names)))
		}
		if k == 0 {
			return names
		}
		e.names = append(e.names, names[:k]...)
		d.lines[i].text = e.render()
		return names[k:]
	}
	return names
}

// lineOf returns the 1-based line in the block that maps e, or 0.
func (d *doc) lineOf(e Entry) int {
	for i := d.begin + 1; d.begin >= 0 && i < d.end; i++ {
		pe, ok := parseEntry(d.lines[i].text)
		if ok && pe.addr.String() == e.Addr && hasName(pe.names, e.Name) {
			return i + 1
		}
	}
	return 0
}

func (d *doc) blockMaps(name string, a netip.Addr) bool {
	for i := d.begin + 1; d.begin >= 0 && i < d.end; i++ {
		e, ok := parseEntry(d.lines[i].text)
		if ok && e.addr == a && hasName(e.names, name) {
			return true
		}
	}
	return false
}

// ensureBlock adds an empty block when the file has none: at the end, or
// just before a last line without a line ending, which is left as it was
// (see the package comment).
func (d *doc) ensureBlock(def string) {
	if d.begin >= 0 {
		return
	}
	nl := d.style(def)
	d.begin = len(d.lines)
	if d.begin > 0 && d.lines[d.begin-1].eol == "" {
		d.begin--
	}
	d.lines = slices.Insert(d.lines, d.begin, line{text: beginLine, eol: nl},
		line{text: endLine, eol: nl})
	d.end = d.begin + 1
}

// dropEmptyBlock removes a block with nothing between its markers: its lines
// and their line endings, and not one byte more.
func (d *doc) dropEmptyBlock() {
	if d.begin < 0 || d.end != d.begin+1 {
		return
	}
	d.lines = slices.Delete(d.lines, d.begin, d.end+1)
	d.begin, d.end = -1, -1
}

// Report is what a hosts file says about some names.
type Report struct {
	Managed []Entry   `json:"managed"` // every mapping in banco's block
	Other   []Mapping `json:"other"`   // lines outside the block mapping the same names
}

// Inspect reads content without changing it. Other lists the lines outside
// banco's block that map a name of the block or any of names.
func Inspect(content []byte, names []string) (Report, error) {
	d, err := parse(content)
	if err != nil {
		return Report{}, err
	}
	var r Report
	all := slices.Clone(names)
	for i := d.begin + 1; d.begin >= 0 && i < d.end; i++ {
		e, ok := parseEntry(d.lines[i].text)
		if !ok {
			continue
		}
		for _, n := range e.names {
			r.Managed = append(r.Managed, Entry{Name: n, Addr: e.addr.String(), Line: i + 1})
			if !hasName(all, n) {
				all = append(all, n)
			}
		}
	}
	r.Other = d.outside(all)
	return r, nil
}
