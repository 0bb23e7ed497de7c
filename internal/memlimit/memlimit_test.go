package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, Floor},
		{10 << 20, Floor},
		{Floor / 2, Floor},
		{Floor/2 + 1, Floor + 2},
		{200 << 20, 400 << 20},
		{math.MaxUint64, math.MaxInt64},
	} {
		if got := For(tc.live); got != tc.want {
			t.Errorf("For(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// gcPercent reads the collector's GOGC setting without changing it.
func gcPercent() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func TestRunSetsAndRestores(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	before := debug.SetMemoryLimit(-1)
	gcBefore := gcPercent()
	if gcBefore < 0 {
		t.Fatal("the collector is off before Run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx); close(done) }()

	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < Floor || got == before {
		t.Errorf("while running, the limit is %d; want at least %d", got, int64(Floor))
	}
	for gcPercent() >= 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := gcPercent(); got >= 0 {
		t.Errorf("while running, GOGC is %d; want the trigger off (-1)", got)
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after Run, the limit is %d, want %d back", got, before)
	}
	if got := gcPercent(); got != gcBefore {
		t.Errorf("after Run, GOGC is %d, want %d back", got, gcBefore)
	}
}

func TestRunKeepsGOGC(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "150")
	before := debug.SetGCPercent(150)
	defer debug.SetGCPercent(before)
	limit := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for debug.SetMemoryLimit(-1) == limit && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := gcPercent(); got != 150 {
		t.Errorf("with GOGC=150 set, Run changed it to %d", got)
	}
	cancel()
	<-done
}

func TestRunLeavesGOMEMLIMIT(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "1GiB")
	before := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Run(ctx)
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set, Run changed the limit to %d", got)
	}
}
