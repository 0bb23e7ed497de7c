package ledger

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

func BenchmarkParseAmount(b *testing.B) {
	for _, in := range []string{"100", "12.50", "999999999.99"} {
		b.Run(in, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseAmount(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCommit measures durable money movements per second with 1, 16
// and 64 concurrent callers: each op is one Apply that returns after its
// commit is on disk.
func BenchmarkCommit(b *testing.B) {
	for _, be := range backends {
		for _, par := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/deposit/clients=%d", be.name, par), func(b *testing.B) {
				benchCommit(b, be, par, false)
			})
			b.Run(fmt.Sprintf("%s/transfer/clients=%d", be.name, par), func(b *testing.B) {
				benchCommit(b, be, par, true)
			})
		}
	}
}

func benchCommit(b *testing.B, be backend, clients int, transfer bool) {
	s, _ := newStore(b, be)
	const accounts = 64
	for i := range accounts {
		apply(b, s, dep(fmt.Sprint("c", i), MaxAmount, "seed"))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	for range clients {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				who := fmt.Sprint("c", n%accounts)
				r := dep(who, 1, fmt.Sprint("k", n))
				if transfer {
					r = xfer(who, fmt.Sprint("c", (n+1)%accounts), 1, fmt.Sprint("k", n))
				}
				if _, err := s.Apply(bg, r); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	if ss, ok := s.(*sqliteStore); ok && ss.commits.Load() > 0 {
		b.ReportMetric(float64(ss.committed.Load())/float64(ss.commits.Load()), "ops/commit")
	}
}

// BenchmarkBalance measures balance reads of existing accounts by 16
// concurrent callers.
func BenchmarkBalance(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s, _ := newStore(b, be)
			for i := range 16 {
				apply(b, s, dep(fmt.Sprint("c", i), 100, "seed"))
			}
			var next atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				who := fmt.Sprint("c", next.Add(1)%16)
				for pb.Next() {
					if _, err := s.Balance(bg, who); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}
