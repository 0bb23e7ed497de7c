package memlimit

import (
	"context"
	"math"
	"runtime/debug"
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

func TestRunSetsAndRestores(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetMemoryLimit(-1)
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
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("after Run, the limit is %d, want %d back", got, before)
	}
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
