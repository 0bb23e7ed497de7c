package hosts

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Markers of banco's block. A line is a marker when, trimmed of spaces, tabs
// and a carriage return, it equals the short form or starts with it and a space.
const (
	beginMarker = "# BEGIN banco"
	endMarker   = "# END banco"
	beginLine   = beginMarker + " (managed by banco hosts; changes here are overwritten)"
	endLine     = endMarker
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// ErrNotText is returned for a file that banco cannot edit as text: UTF-16 or
// UTF-32 (with or without a byte-order mark), or any file with a NUL byte.
var ErrNotText = errors.New("not a text file banco can edit (UTF-16 or binary)")

// BlockError reports a damaged banco block: markers missing, repeated or out
// of order. banco then changes nothing and leaves the repair to a person.
type BlockError struct {
	Line    int // 1-based line of the marker at fault
	Problem string
}

func (e *BlockError) Error() string {
	return fmt.Sprintf("banco's block is damaged: %s on line %d", e.Problem, e.Line)
}

// line is one line of the file: its text without the line ending, and the
// ending itself ("\n", "\r\n", or "" for a last line without one).
type line struct {
	text, eol string
}

// doc is a parsed hosts file. Joining bom, and every line's text and eol,
// gives back the input byte for byte.
type doc struct {
	bom        bool
	lines      []line
	begin, end int // marker line indexes; -1 when the file has no block
}

// checkText refuses content that is not ASCII-compatible text.
func checkText(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}), bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return fmt.Errorf("%w: it starts with a UTF-16 or UTF-32 byte-order mark", ErrNotText)
	case bytes.IndexByte(b, 0) >= 0:
		return fmt.Errorf("%w: it holds NUL bytes", ErrNotText)
	}
	return nil
}

func splitLines(s string) []line {
	var ls []line
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			ls = append(ls, line{text: s})
			break
		}
		l := line{text: s[:i], eol: "\n"}
		if strings.HasSuffix(l.text, "\r") {
			l.text, l.eol = l.text[:i-1], "\r\n"
		}
		ls = append(ls, l)
		s = s[i+1:]
	}
	return ls
}

func parse(content []byte) (*doc, error) {
	if err := checkText(content); err != nil {
		return nil, err
	}
	d := &doc{begin: -1, end: -1}
	if bytes.HasPrefix(content, bom) {
		d.bom = true
		content = content[len(bom):]
	}
	d.lines = splitLines(string(content))
	for i, l := range d.lines {
		switch {
		case isMarker(l.text, beginMarker):
			if d.begin >= 0 {
				return nil, &BlockError{Line: i + 1, Problem: "a second BEGIN marker"}
			}
			d.begin = i
		case isMarker(l.text, endMarker):
			if d.begin < 0 {
				return nil, &BlockError{Line: i + 1, Problem: "END marker before BEGIN"}
			}
			if d.end >= 0 {
				return nil, &BlockError{Line: i + 1, Problem: "a second END marker"}
			}
			d.end = i
		}
	}
	if d.begin >= 0 && d.end < 0 {
		return nil, &BlockError{Line: d.begin + 1, Problem: "BEGIN marker without END"}
	}
	return d, nil
}

func isMarker(text, marker string) bool {
	t := strings.Trim(text, " \t\r")
	return t == marker || strings.HasPrefix(t, marker+" ")
}

func (d *doc) bytes() []byte {
	var b bytes.Buffer
	if d.bom {
		b.Write(bom)
	}
	for _, l := range d.lines {
		b.WriteString(l.text)
		b.WriteString(l.eol)
	}
	return b.Bytes()
}

// inBlock reports whether line i lies strictly between the markers.
func (d *doc) inBlock(i int) bool {
	return d.begin >= 0 && i > d.begin && i < d.end
}

// outsideBlock reports whether line i is outside the block and its markers.
func (d *doc) outsideBlock(i int) bool {
	return d.begin < 0 || i < d.begin || i > d.end
}

// entry is a line that maps an address to names, split into its parts.
type entry struct {
	addrText string
	addr     netip.Addr
	names    []string
	comment  string // from '#' to the end, "" if none
}

// parseEntry reads "ADDR NAME... [# comment]"; ok is false for comments,
// blank lines and anything whose first field is not an IP address.
func parseEntry(text string) (e entry, ok bool) {
	body := text
	if i := strings.IndexByte(text, '#'); i >= 0 {
		body, e.comment = text[:i], text[i:]
	}
	f := strings.FieldsFunc(body, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f'
	})
	if len(f) < 2 {
		return e, false
	}
	a, err := netip.ParseAddr(f[0])
	if err != nil {
		return e, false
	}
	e.addrText, e.addr, e.names = f[0], a, f[1:]
	return e, true
}

func (e entry) render() string {
	s := e.addrText + " " + strings.Join(e.names, " ")
	if e.comment != "" {
		s += " " + e.comment
	}
	return s
}

// style is the line ending new lines get: the file's first one, else def.
func (d *doc) style(def string) string {
	for _, l := range d.lines {
		if l.eol != "" {
			return l.eol
		}
	}
	if def == "" {
		return "\n"
	}
	return def
}

func hasName(names []string, n string) bool {
	for _, x := range names {
		if strings.EqualFold(x, n) {
			return true
		}
	}
	return false
}
