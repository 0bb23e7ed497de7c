// Package logbuf takes log lines off a server's request path. A Writer
// appends each line to memory and returns; one goroutine writes what has
// gathered to the real destination, so that under load many lines share
// one write system call, and a request never waits for a slow terminal or
// disk. Lines keep their order.
//
// Lines are written at most a millisecond after they come. What is still in
// memory when the process is killed is lost: at most the lines of the last
// millisecond, or of the time the destination has been blocked. Close writes
// out the rest.
package logbuf

import (
	"io"
	"sync"
	"time"
)

// maxPending bounds what waits in memory; past it, Write waits for the
// destination, so that a blocked destination slows the server rather than
// growing its memory.
const maxPending = 1 << 20

// gather is how long the writing goroutine lets lines gather after the
// first one before it writes: under load, one wake-up and one write system
// call then serve hundreds of lines instead of one or two, and these cost
// more than formatting a line.
const gather = time.Millisecond

// Writer is an io.Writer that writes to another one from its own goroutine.
type Writer struct {
	out io.Writer

	mu      sync.Mutex
	drained *sync.Cond // signalled when buf is taken
	buf     []byte
	closed  bool
	err     error // the first error of out

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

// New starts a Writer that writes to out.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), quit: make(chan struct{}),
		done: make(chan struct{})}
	w.drained = sync.NewCond(&w.mu)
	go w.run()
	return w
}

// Write keeps a copy of p for the writing goroutine; after Close, it
// writes p directly.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.buf) >= maxPending && !w.closed {
		w.drained.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (w *Writer) run() {
	defer close(w.done)
	var spare []byte
	pause := time.NewTimer(gather)
	pause.Stop()
	for {
		select {
		case <-w.wake:
		case <-w.quit:
			w.flush(spare)
			return
		}
		pause.Reset(gather)
		select {
		case <-pause.C:
		case <-w.quit:
			w.flush(spare)
			return
		}
		spare = w.flush(spare)
	}
}

// flush writes what has gathered, handing back the buffer it wrote from
// for the next round.
func (w *Writer) flush(spare []byte) []byte {
	w.mu.Lock()
	b := w.buf
	w.buf = spare[:0]
	w.drained.Broadcast()
	w.mu.Unlock()
	if len(b) > 0 {
		if _, err := w.out.Write(b); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}
	return b
}

// Close writes out what is still in memory and returns the first error the
// destination gave, if any. Writes after Close go straight to it.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return nil
	}
	w.closed = true
	w.drained.Broadcast()
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
