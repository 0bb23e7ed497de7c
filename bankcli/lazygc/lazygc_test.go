package lazygc

import (
	"runtime/debug"
	"testing"
)

func TestRestorePutsBackTheSettings(t *testing.T) {
	Restore()
	Restore() // a second call changes nothing
	if got := debug.SetGCPercent(prevGC); got != prevGC {
		t.Errorf("GC percent after Restore = %d, want %d (GOGC's)", got, prevGC)
	}
	if got := debug.SetMemoryLimit(-1); got != prevLimit {
		t.Errorf("memory limit after Restore = %d, want %d (GOMEMLIMIT's)", got, prevLimit)
	}
}
