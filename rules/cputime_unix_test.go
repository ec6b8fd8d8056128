//go:build unix

package rules

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (user + system). Benchmarks
// report it next to wall time because on a shared machine wall time per op
// measures the neighbours as much as the code.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
