package hosts

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"testing"
)

// FuzzAddRemove checks, for any file Edit accepts: no edit changes a byte
// outside banco's block (see checkOutsideKept), whether it adds the block,
// edits it or removes it; adding again changes nothing; add then remove gives
// back a file without a block byte for byte; and a file with a block gets,
// from add then remove, either its bytes outside the block alone, or a block
// that still holds lines it had that are not the removed names.
func FuzzAddRemove(f *testing.F) {
	seeds, err := fs.Glob(testdata, "testdata/edit/*.hosts")
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range seeds {
		f.Add(readTestdata(f, path.Base(p)))
	}
	f.Add([]byte("a\r"))
	f.Add([]byte("\xef\xbb\xbf"))
	f.Add([]byte("#BEGIN banco\n"))
	// An END line without a line ending, in a file banco did not write so:
	// removing the block once ate the newline before it.
	f.Add([]byte("a\n# BEGIN banco\n# END banco"))
	f.Add([]byte("a\n# BEGIN banco\n127.0.0.1 banco.local\n# END banco"))

	op := Op{Kind: Add, Names: []string{"banco.local", "x.banco.local"}, Addrs: loopback,
		Force: true, MaxNames: 1, NewLine: "\r\n"}
	rm := Op{Kind: Remove, Names: op.Names}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := parse(in); err != nil {
			var be *BlockError
			if !errors.Is(err, ErrNotText) && !errors.As(err, &be) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkEditKeepsOutside(t, in, rm)
		checkEditKeepsOutside(t, in, Op{Kind: Add, Names: op.Names, Addrs: loopback})

		out := checkEditKeepsOutside(t, in, op)
		again, ch2, err := Edit(out, op)
		if err != nil || ch2.Changed() || !bytes.Equal(again, out) {
			t.Fatalf("second add: err %v, changes %+v:\n%q\nfrom\n%q", err, ch2, again, out)
		}
		r, err := Inspect(out, nil)
		if err != nil || len(r.Managed) < 4 {
			t.Fatalf("after add, Inspect gives %+v, %v", r, err)
		}

		back := checkEditKeepsOutside(t, out, rm)
		_, _, hadBlock := outsideParts(in)
		if !hadBlock && !bytes.Equal(back, in) {
			t.Fatalf("add then remove gave\n%q\nwant the input\n%q", back, in)
		}
		d, _ := parse(back)
		if d.begin >= 0 && (d.end == d.begin+1 || mapsAny(back, op.Names)) {
			t.Fatalf("remove left an empty block, or the names, in\n%q", back)
		}
	})
}

// checkEditKeepsOutside applies op to in, which Edit accepts, and checks that
// no byte outside banco's block changed, even when Edit refused.
func checkEditKeepsOutside(t *testing.T, in []byte, op Op) []byte {
	t.Helper()
	out, _, err := Edit(in, op)
	var ce *ConflictError
	switch {
	case errors.As(err, &ce) && !op.Force:
		if !bytes.Equal(out, in) {
			t.Fatalf("refused edit changed the content")
		}
	case err != nil:
		t.Fatalf("%s: %v", describe(op), err)
	}
	checkOutsideKept(t, in, out)
	return out
}

func mapsAny(content []byte, names []string) bool {
	r, _ := Inspect(content, nil)
	for _, e := range r.Managed {
		if hasName(names, e.Name) {
			return true
		}
	}
	return false
}
