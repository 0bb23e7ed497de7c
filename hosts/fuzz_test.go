package hosts

import (
	"bytes"
	"errors"
	"io/fs"
	"path"
	"testing"
)

// FuzzAddRemove checks, for any file: Edit never panics; an add changes no
// byte outside banco's block; adding again changes nothing; and where the file
// had no block, removing gives back the input byte for byte.
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

	op := Op{Kind: Add, Names: []string{"banco.local", "x.banco.local"}, Addrs: loopback,
		Force: true, MaxNames: 1, NewLine: "\r\n"}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, ch, err := Edit(in, op)
		var be *BlockError
		if err != nil {
			if !errors.Is(err, ErrNotText) && !errors.As(err, &be) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkOutsideKept(t, in, out, op)

		again, ch2, err := Edit(out, op)
		if err != nil || ch2.Changed() || !bytes.Equal(again, out) {
			t.Fatalf("second add: err %v, changes %+v:\n%q\nfrom\n%q", err, ch2, again, out)
		}
		r, err := Inspect(out, nil)
		if err != nil || len(r.Managed) < 4 {
			t.Fatalf("after add, Inspect gives %+v, %v", r, err)
		}

		back, _, err := Edit(out, Op{Kind: Remove, Names: op.Names})
		if err != nil {
			t.Fatalf("remove: %v", err)
		}
		if _, _, hadBlock := outsideParts(in); !hadBlock && ch.Changed() && !bytes.Equal(back, in) {
			t.Fatalf("add then remove gave\n%q\nwant the input\n%q", back, in)
		}
	})
}
