// Package procstat reads a process's CPU time from /proc, for the bench
// programs: unlike wall-clock figures it hardly moves with the machine's
// load, so it tells whose work a figure is made of.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// UserHZ is the unit of /proc/<pid>/stat's CPU times (USER_HZ, 100 on
// Linux everywhere in practice).
const UserHZ = 100

// Ticks is utime+stime of /proc/<pid>/stat, in UserHZ; pid may be "self".
func Ticks(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(string(b), ") ") // the command name may hold spaces
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%s/stat: unexpected format", pid)
	}
	var t int64
	for _, s := range f[11:13] { // fields 14 and 15: utime, stime
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%s/stat: %w", pid, err)
		}
		t += v
	}
	return t, nil
}

// CPUTime is the CPU time (user + system) process pid has used so far.
func CPUTime(pid int) (time.Duration, error) {
	t, err := Ticks(strconv.Itoa(pid))
	if err != nil {
		return 0, err
	}
	return time.Duration(t) * time.Second / UserHZ, nil
}
