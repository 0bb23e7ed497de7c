//go:build unix

package ledger

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user and system, so
// benchmarks can report the cost of an op on a machine too busy for wall
// times to mean much.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
