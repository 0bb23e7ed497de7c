// Package memlimit keeps a long-running banco process's memory near a
// target while its live heap is small, without ever starving a large one.
//
// Go's collector lets the heap grow to twice what is live (GOGC=100) before
// it runs again. A server holding many idle connections keeps a few tens of
// kilobytes live for each, and that doubling, on top of the binary and the
// goroutine stacks, is most of its resident memory. A soft memory limit
// (runtime/debug.SetMemoryLimit) makes the collector run earlier, and costs
// nothing while the process stays well under it.
//
// A fixed limit below the live heap would make the collector run
// continuously (the runtime then caps it at half the CPU), so the limit
// follows the live heap: it is Floor, or twice the live heap when that is
// more, which is never tighter than GOGC=100 would be for the heap alone.
// A GOMEMLIMIT set by the user wins: Run then changes nothing.
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

// Run adjusts the soft memory limit every second until ctx is done, then
// puts back the limit it found. It returns at once, doing nothing, when the
// GOMEMLIMIT variable is set.
func Run(ctx context.Context) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)

	sample := []metrics.Sample{{Name: liveMetric}}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(For(sample[0].Value.Uint64()))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
