package bench

import (
	"math/bits"
	"time"
)

// hist is a log-linear histogram of durations: exact below 128ns, then 64
// buckets per power of two, so any quantile is within about 1.6% of the
// truth, in a fixed 30 KB whatever the length of the run.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	histSub     = 64
	histBuckets = (64 - 6) * histSub
)

func histIndex(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // keep the top 7 bits: 64..127
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	if i < 2*histSub {
		return time.Duration(i)
	}
	shift := i/histSub - 1
	m := uint64(i%histSub + histSub)
	lo := m << shift
	return time.Duration(lo + (uint64(1)<<shift)/2)
}

func (h *hist) add(d time.Duration) {
	h.counts[histIndex(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the duration below which a fraction q of the samples lie.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}
