package hosts

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/edit")

// testdata is embedded so that the test binary also runs as a Windows
// program under wine from any folder. -update still writes to the folder.
//
//go:embed testdata/edit
var testdata embed.FS

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testdata.ReadFile(path.Join("testdata", "edit", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

var loopback = addrs("127.0.0.1", "::1")

func add(names ...string) Op {
	return Op{Kind: Add, Names: names, Addrs: loopback}
}

func remove(names ...string) Op {
	return Op{Kind: Remove, Names: names}
}

// TestEditGolden applies a sequence of operations to each input in
// testdata/edit/NAME.hosts and compares every step's result, shown one quoted
// line per line so that CR, BOM and a missing final newline stay visible,
// with testdata/edit/NAME.golden.
func TestEditGolden(t *testing.T) {
	windows := func(op Op) Op { op.MaxNames = 9; op.NewLine = "\r\n"; return op }
	force := func(op Op) Op { op.Force = true; return op }
	withIPs := func(op Op, ips ...string) Op { op.Addrs = addrs(ips...); return op }
	eleven := strings.Fields("b1 b2 b3 b4 b5 b6 b7 b8 b9 b10 b11")

	tests := []struct {
		name      string
		in        string // input file name without .hosts; default name
		ops       []Op
		roundTrip bool // the last step gives back the input byte for byte
	}{
		{"aliases", "", []Op{add("banco.local"), remove("banco.local")}, true},
		{"no-newline", "", []Op{add("banco.local"), add("banco.local"), remove("banco.local")}, true},
		{"no-newline-windows", "no-newline", []Op{windows(add("banco.local")),
			windows(remove("banco.local"))}, true},
		{"crlf-bom", "", []Op{add("banco.local", "api.banco.local"), remove("banco.local"),
			remove("api.banco.local")}, true},
		{"empty", "", []Op{add("banco.local"), remove("banco.local")}, true},
		{"eleven-names", "", []Op{windows(add(eleven...)), windows(add("b12")),
			windows(remove(eleven...)), windows(remove("b12"))}, true},
		{"conflict", "", []Op{add("banco.local"), force(add("banco.local")),
			add("banco.local"), remove("banco.local")}, true},
		{"mapped-outside", "", []Op{add("banco.local"), withIPs(add("banco.local"), "::1"),
			add("banco.local", "api.banco.local"), force(add("banco.local")),
			remove("banco.local")}, true},
		{"end-without-newline", "", []Op{add("banco.local"), remove("banco.local")}, false},
		{"end-without-newline-block", "", []Op{remove("banco.local"), add("banco.local"),
			remove("banco.local")}, false},
		{"cycle", "", []Op{add("banco.local"), remove("banco.local"), add("banco.local"),
			add("banco.local"), add("api.banco.local"), withIPs(add("banco.local"), "10.0.0.5"),
			remove("banco.local", "api.banco.local"), add("banco.local"),
			remove("BANCO.LOCAL")}, true},
		{"block-middle", "", []Op{add("banco.local"), add("api.banco.local"),
			remove("api.banco.local"), remove("banco.local")}, false},
		{"damaged", "", []Op{add("banco.local"), remove("banco.local")}, true},
		{"utf16", "", []Op{add("banco.local")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.in
			if file == "" {
				file = tt.name
			}
			in := readTestdata(t, file+".hosts")
			var log bytes.Buffer
			content := in
			for i, op := range tt.ops {
				out, ch, err := Edit(content, op)
				fmt.Fprintf(&log, "== step %d: %s\n", i+1, describe(op))
				writeStep(&log, ch, err, out)
				if err != nil && !bytes.Equal(out, content) {
					t.Errorf("step %d: content changed despite error %v", i+1, err)
				}
				if !ch.Changed() && !bytes.Equal(out, content) {
					t.Errorf("step %d: content changed though nothing was reported", i+1)
				}
				checkOutsideKept(t, content, out)
				content = out
			}
			if tt.roundTrip && !bytes.Equal(content, in) {
				t.Errorf("after all steps\n%q\nwant the input back\n%q", content, in)
			}
			compareGolden(t, tt.name+".golden", log.Bytes())
		})
	}
}

func describe(op Op) string {
	verb := map[Kind]string{Add: "add", Remove: "remove"}[op.Kind]
	s := verb + " " + strings.Join(op.Names, " ")
	if op.Kind == Add {
		s += fmt.Sprintf(" %v", op.Addrs)
	}
	if op.Force {
		s += " force"
	}
	if op.MaxNames > 0 {
		s += fmt.Sprintf(" max-names=%d newline=%q", op.MaxNames, op.NewLine)
	}
	return s
}

func writeStep(w *bytes.Buffer, ch Changes, err error, out []byte) {
	if err != nil {
		fmt.Fprintf(w, "error: %v\n", err)
	}
	for _, e := range ch.Added {
		fmt.Fprintf(w, "added: %s %s (line %d)\n", e.Addr, e.Name, e.Line)
	}
	for _, e := range ch.Removed {
		fmt.Fprintf(w, "removed: %s %s (line %d)\n", e.Addr, e.Name, e.Line)
	}
	for _, m := range ch.Outside {
		fmt.Fprintf(w, "outside: line %d: %q\n", m.Line, m.Text)
	}
	if err == nil && !ch.Changed() {
		fmt.Fprintln(w, "unchanged")
	}
	for _, l := range strings.SplitAfter(string(out), "\n") {
		if l != "" {
			fmt.Fprintf(w, "  %s\n", strconv.Quote(l))
		}
	}
}

// checkOutsideKept fails the test when an edit changed a byte outside
// banco's block. The bytes outside are those before the BEGIN line and those
// after the END line's ending; a file without a block is all outside. So an
// edit keeps them when, joined, they are the same before and after, and a
// block present both times has the same bytes before it.
func checkOutsideKept(t *testing.T, before, after []byte) {
	t.Helper()
	b1, a1, ok1 := outsideParts(before)
	b2, a2, ok2 := outsideParts(after)
	if !ok1 {
		b1 = before
	}
	if !ok2 {
		b2 = after
	}
	same := bytes.Equal(joinBytes(b1, a1), joinBytes(b2, a2))
	if ok1 && ok2 {
		same = same && bytes.Equal(b1, b2)
	}
	if !same {
		t.Errorf("bytes outside banco's block changed:\n%q\nto\n%q", before, after)
	}
}

func joinBytes(a, b []byte) []byte { return append(slices.Clip(a), b...) }

// outsideParts returns the bytes before banco's BEGIN line and after the
// END line's ending; ok is false when there is no block.
func outsideParts(content []byte) (before, after []byte, ok bool) {
	d, err := parse(content)
	if err != nil || d.begin < 0 {
		return nil, nil, false
	}
	pre := &doc{bom: d.bom, lines: d.lines[:d.begin]}
	post := &doc{lines: d.lines[d.end+1:]}
	return pre.bytes(), post.bytes(), true
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "edit", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := testdata.ReadFile("testdata/edit/" + name)
	if err != nil {
		t.Fatalf("%v (run go test ./hosts -run TestEditGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (rerun with -update to accept):\n--- got\n%s\n--- want\n%s",
			path, got, want)
	}
}

// TestRemoveBlock pins down what removing a block's last names gives: the
// file with the block's lines, from BEGIN to the END line's ending, cut out,
// and every other byte as it was, whoever wrote the block.
func TestRemoveBlock(t *testing.T) {
	const block = "# BEGIN banco\n127.0.0.1 banco.local\n"
	tests := []struct{ name, in, want string }{
		{"END without newline keeps the newline before BEGIN",
			"a\n" + block + "# END banco", "a\n"},
		{"CRLF END without newline", "a\r\n# BEGIN banco\r\n::1 banco.local\r\n# END banco",
			"a\r\n"},
		{"block first", block + "# END banco\nb", "b"},
		{"block alone", block + "# END banco\n", ""},
		{"block in the middle", "a\n" + block + "# END banco\r\nb\n", "a\nb\n"},
		{"byte-order mark kept", "\xef\xbb\xbf" + block + "# END banco", "\xef\xbb\xbf"},
		{"other lines keep the block", "a\n" + block + "# mine\n# END banco",
			"a\n# BEGIN banco\n# mine\n# END banco"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ch, err := Edit([]byte(tt.in), remove("banco.local"))
			if err != nil || !ch.Changed() {
				t.Fatalf("Edit: changes %+v, %v", ch, err)
			}
			if string(out) != tt.want {
				t.Errorf("remove gave\n%q\nwant\n%q", out, tt.want)
			}
			checkOutsideKept(t, []byte(tt.in), out)
		})
	}
}

func TestEditRefusesBadInput(t *testing.T) {
	tests := []struct {
		name    string
		content string
		op      Op
		want    any // error value for errors.Is, or pointer target for errors.As
	}{
		{"ok/utf16 without bom", "1\x002\x007\x00", add("banco.local"), ErrNotText},
		{"fail/second begin", "# BEGIN banco\n# BEGIN banco\n# END banco\n", add("x"), "second BEGIN"},
		{"fail/end first", "# END banco\n# BEGIN banco\n", add("x"), "END marker before BEGIN"},
		{"fail/two ends", "# BEGIN banco\n# END banco\n# END banco\n", add("x"), "second END"},
		{"fail/bad name", "", add("bad name"), "not allowed"},
		{"fail/name is address", "", add("10.0.0.1"), "is an address"},
		{"fail/empty label", "", add("a..b"), "1 to 63"},
		{"fail/no names", "", Op{Kind: Add, Addrs: loopback}, "no names"},
		{"fail/no addresses", "", Op{Kind: Add, Names: []string{"x"}}, "no addresses"},
		{"fail/no kind", "", Op{Names: []string{"x"}}, "unknown operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := Edit([]byte(tt.content), tt.op)
			if err == nil {
				t.Fatalf("Edit succeeded with %q", out)
			}
			if string(out) != tt.content {
				t.Errorf("content changed to %q", out)
			}
			switch w := tt.want.(type) {
			case error:
				if !errors.Is(err, w) {
					t.Errorf("error %v, want %v", err, w)
				}
			case string:
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestInspect(t *testing.T) {
	in := "127.0.0.1 localhost\n10.0.0.1 api.banco.local other\n" +
		"# BEGIN banco\n127.0.0.1 banco.local api.banco.local\n# END banco\n" +
		"10.0.0.2 banco.local\n10.0.0.3 unrelated\n10.0.0.4 asked\n"
	r, err := Inspect([]byte(in), []string{"asked"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Managed {
		got = append(got, fmt.Sprintf("%s=%s@%d", e.Name, e.Addr, e.Line))
	}
	for _, m := range r.Other {
		got = append(got, fmt.Sprintf("other %s@%d", m.Addr, m.Line))
	}
	want := "banco.local=127.0.0.1@4 api.banco.local=127.0.0.1@4 " +
		"other 10.0.0.1@2 other 10.0.0.2@6 other 10.0.0.4@8"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("Inspect:\n got %s\nwant %s", s, want)
	}
}

func TestWindowsPath(t *testing.T) {
	env := map[string]string{"SystemRoot": `C:\Windows`, "Custom": `D:\net`}
	getenv := func(k string) string { return env[k] }
	tests := []struct{ db, want string }{
		{`%SystemRoot%\System32\drivers\etc`, `C:\Windows\System32\drivers\etc\hosts`},
		{`%Custom%\etc\`, `D:\net\etc\hosts`},
		{`E:\hosts-dir`, `E:\hosts-dir\hosts`},
		{`%Unknown%\etc`, `%Unknown%\etc\hosts`},
		{`50%\x`, `50%\x\hosts`},
		{"", `C:\Windows\System32\drivers\etc\hosts`},
	}
	for _, tt := range tests {
		if got := windowsPath(tt.db, getenv); got != tt.want {
			t.Errorf("windowsPath(%q) = %q, want %q", tt.db, got, tt.want)
		}
	}
	got := windowsPath("", func(string) string { return "" })
	if got != `C:\Windows\System32\drivers\etc\hosts` {
		t.Errorf("windowsPath without SystemRoot = %q", got)
	}
}
