package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/l2gw/l2gw/bench/internal/procstat"
)

// cpuSample is a reading of the machine's busy CPU time and of the server's
// and the bench's own, in clock ticks; the difference of two samples tells
// how much CPU other processes took meanwhile (the noise of a shared box).
type cpuSample struct {
	busy, server, self int64
}

func sampleCPU(serverPID int) (cpuSample, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return cpuSample{}, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	var s cpuSample
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return cpuSample{}, fmt.Errorf("/proc/stat: %w", err)
		}
		s.busy += v
	}
	if s.self, err = procstat.Ticks("self"); err != nil {
		return cpuSample{}, err
	}
	if serverPID != os.Getpid() {
		if s.server, err = procstat.Ticks(strconv.Itoa(serverPID)); err != nil {
			return cpuSample{}, err
		}
	}
	return s, nil
}

// usage describes the CPU used between a and b over wall seconds, in CPUs.
type usage struct{ server, self, others float64 }

func cpuUsage(a, b cpuSample, wall float64) usage {
	const hz = 100 // USER_HZ of /proc on Linux
	per := func(t int64) float64 { return float64(t) / hz / wall }
	return usage{
		server: per(b.server - a.server),
		self:   per(b.self - a.self),
		others: max(0, per((b.busy-a.busy)-(b.server-a.server)-(b.self-a.self))),
	}
}

func (u usage) String() string {
	return fmt.Sprintf("CPUs used: server %.2f, bench %.2f, other processes %.2f of %d", u.server, u.self, u.others, runtime.NumCPU())
}
