package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowWriter records writes, and can hold them up.
type slowWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
	gate   chan struct{} // when set, each write waits for a value
	err    error
}

func (s *slowWriter) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.err != nil {
		return 0, s.err
	}
	return s.b.Write(p)
}

func TestLinesInOrderAndAllWritten(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	var want strings.Builder
	for i := range 5000 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.b.String(); got != want.String() {
		t.Fatalf("got %d bytes, want %d, or out of order", len(got), want.Len())
	}
	if _, err := w.Write([]byte("after\n")); err != nil || !strings.HasSuffix(out.b.String(),
		"line 4999\nafter\n") {
		t.Errorf("a write after Close: %v, %q", err, out.b.String()[out.b.Len()-20:])
	}
}

// TestLinesShareWrites: while the destination is busy, lines gather and
// then go out together.
func TestLinesShareWrites(t *testing.T) {
	out := &slowWriter{gate: make(chan struct{})}
	w := New(out)
	if _, err := w.Write([]byte("first\n")); err != nil {
		t.Fatal(err)
	}
	// The first write is now held at the gate (or about to be); queue more.
	for i := range 100 {
		fmt.Fprintf(w, "more %d\n", i)
	}
	go func() {
		for range 200 {
			out.gate <- struct{}{}
		}
	}()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.writes > 10 {
		t.Errorf("101 lines took %d writes", out.writes)
	}
	if !strings.HasPrefix(out.b.String(), "first\nmore 0\n") ||
		!strings.HasSuffix(out.b.String(), "more 99\n") {
		t.Errorf("lines lost or reordered: %q", out.b.String())
	}
}

func TestCloseReportsError(t *testing.T) {
	boom := errors.New("disk full")
	w := New(&slowWriter{err: boom})
	fmt.Fprintln(w, "x")
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close = %v, want %v", err, boom)
	}
}

// TestLineWrittenSoon: a line reaches the destination on its own, without
// Close, and so does a line that comes after a quiet spell.
func TestLineWrittenSoon(t *testing.T) {
	out := &slowWriter{}
	w := New(out)
	defer w.Close()
	for _, line := range []string{"one\n", "two\n"} {
		fmt.Fprint(w, line)
		deadline := time.Now().Add(10 * time.Second)
		for {
			out.mu.Lock()
			got := out.b.String()
			out.mu.Unlock()
			if strings.HasSuffix(got, line) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q not written after 10 s; have %q", line, got)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(5 * gather) // the writer goes quiet again
	}
}
