// Package memlimit sets how a long-running banco process uses memory: it
// collects garbage when the process's memory nears a budget that follows
// the live heap, rather than each time the heap has doubled.
//
// Go's collector normally runs whenever the heap has grown by GOGC percent
// (100) of what is live. A server whose live heap is a few megabytes, but
// which allocates a few kilobytes per request at tens of thousands of
// requests per second, then collects dozens of times a second, and that is
// a large share of its CPU time. A server holding many idle connections has
// the opposite problem: the doubling, on top of the goroutine stacks, is
// most of its resident memory.
//
// Run therefore sets a soft memory limit (runtime/debug.SetMemoryLimit) of
// Floor, or twice the live heap when that is more, and turns the GOGC
// trigger off: the collector runs when the Go memory of the process nears
// the limit. While the live heap is small, that is rarely, and the process
// stays near Floor whatever it allocates; once the live heap passes Floor/2
// it is as often as GOGC=100 would be. The limit follows the live heap
// every second, so a heap that grows is never starved: between two checks
// the runtime caps the collector at half the CPU.
//
// A GOMEMLIMIT set by the user wins: Run then changes nothing. A GOGC set
// by the user keeps its trigger, beside the limit.
package memlimit

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Floor is the limit while the live heap is below half of it.
const Floor = 64 << 20

// every is how often the limit follows the live heap.
const every = time.Second

const liveMetric = "/gc/heap/live:bytes"

// For returns the limit for a live heap of live bytes.
func For(live uint64) int64 {
	if live > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return max(Floor, 2*int64(live))
}

// Run sets the limit and the collector's trigger, adjusts the limit every
// second until ctx is done, then puts both back as it found them. It
// returns at once, doing nothing, when the GOMEMLIMIT variable is set.
func Run(ctx context.Context) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)

	sample := []metrics.Sample{{Name: liveMetric}}
	t := time.NewTicker(every)
	defer t.Stop()
	gcOff := false
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(For(sample[0].Value.Uint64()))
			// Only once a limit is set: with neither, the heap would
			// grow without end.
			if !gcOff && os.Getenv("GOGC") == "" {
				gcOff = true
				defer debug.SetGCPercent(debug.SetGCPercent(-1))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
