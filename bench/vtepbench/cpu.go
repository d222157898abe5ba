package main

import (
	"time"

	"github.com/l2gw/l2gw/bench/internal/procstat"
)

// cpuMeter measures the CPU time processes use between start and stop;
// processes whose times cannot be read count 0.
type cpuMeter struct {
	pids  []int
	start []time.Duration
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: make([]time.Duration, len(pids))}
	for i, p := range pids {
		m.start[i], _ = procstat.CPUTime(p)
	}
	return m
}

// stop returns each process's CPU time since start.
func (m *cpuMeter) stop() []time.Duration {
	out := make([]time.Duration, len(m.pids))
	for i, p := range m.pids {
		if t, err := procstat.CPUTime(p); err == nil {
			out[i] = t - m.start[i]
		}
	}
	return out
}
