// Package lazygc holds off Go's garbage collector for the first tenth of a
// second of a banco process. Its packages' init functions (mostly the CA
// engine's dependencies) allocate about 3 MB, enough to start a collection
// in every short command such as banco balance, where that collection cost
// about 1.5 ms of 15 (see BENCHMARKS.md). Long-running commands lose nothing
// but one early collection.
//
// While the collector is held off, a soft memory limit of 64 MiB (or the
// GOMEMLIMIT given, if lower) still makes it run if memory grows: that is
// the runtime's documented GOGC=off plus GOMEMLIMIT mode. After 100 ms, or
// when Restore is called, GOGC's and GOMEMLIMIT's settings are back.
//
// Go initialises packages in import-path order wherever their imports allow
// (The Go Programming Language Specification, "Package initialization"), so
// this package, with few imports and a path under github.com/banco, runs
// its init before the heaviest ones.
package lazygc

import (
	"runtime/debug"
	"sync"
	"time"
)

const (
	window = 100 * time.Millisecond
	limit  = 64 << 20
)

var (
	once      sync.Once
	prevGC    int
	prevLimit int64
)

func init() {
	prevLimit = debug.SetMemoryLimit(-1)
	debug.SetMemoryLimit(min(prevLimit, limit))
	prevGC = debug.SetGCPercent(-1)
	time.AfterFunc(window, Restore)
}

// Restore puts back the collector's settings from before init. It is safe
// to call more than once and from any goroutine.
func Restore() {
	once.Do(func() {
		debug.SetGCPercent(prevGC)
		debug.SetMemoryLimit(prevLimit)
	})
}
