package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Pauses between two calls of Poll's fn: short at first, so a condition
// that holds soon is seen soon, then longer, so a slow one costs little.
const (
	firstPause = time.Millisecond
	maxPause   = 100 * time.Millisecond
)

// stopPolling is an error that ends a Poll at once.
type stopPolling struct{ err error }

func (s stopPolling) Error() string { return s.err.Error() }
func (s stopPolling) Unwrap() error { return s.err }

// StopPolling wraps err so that Poll returns it at once instead of calling
// fn again (the condition can no longer become true: a process exited).
func StopPolling(err error) error { return stopPolling{err} }

// Poll calls fn until it returns nil, and then returns nil. It gives up,
// returning fn's last error, when timeout has passed (zero: no timeout),
// when ctx is done, or at once when fn returns an error made by
// StopPolling. Between calls it pauses 1 ms, doubling up to 100 ms.
func Poll(ctx context.Context, timeout time.Duration, fn func() error) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	pause := firstPause
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if s, ok := errors.AsType[stopPolling](err); ok {
			return s.err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("after %v: %w", timeout, err)
			}
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
		pause = min(2*pause, maxPause)
	}
}

// Eventually polls cond (as Poll does) until it holds, failing the test
// with what and cond's last explanation when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	err := Poll(t.Context(), timeout, func() error {
		if ok, why := cond(); !ok {
			return errors.New(why)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: not reached: %v", what, err)
	}
}

// StopPID sends SIGTERM to pid, waits up to grace for it to be gone (a
// zombie counts as gone), then sends SIGKILL. It is for daemons that
// detached themselves and are known only by their PID; pass only PIDs of
// processes the caller started.
func StopPID(pid int, grace time.Duration) {
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	err := Poll(context.Background(), grace, func() error {
		if Alive(pid) {
			return errors.New("alive")
		}
		return nil
	})
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// StopPidfile is StopPID for the PID written in pidfile, which is then
// removed. A missing or unreadable pidfile stops nothing.
func StopPidfile(pidfile string, grace time.Duration) {
	pid, err := ReadPidfile(pidfile)
	if err != nil {
		return
	}
	StopPID(pid, grace)
	_ = os.Remove(pidfile)
}

// ReadPidfile returns the PID a daemon wrote in pidfile.
func ReadPidfile(pidfile string) (int, error) {
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s: no PID in %q", pidfile, b)
	}
	return pid, nil
}
