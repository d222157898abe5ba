package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/l2gw/l2gw/internal/metrics"
)

// runLoop runs l with pass in a goroutine stopped at the end of the test.
func runLoop(t *testing.T, l *Loop, pass func(context.Context, bool) Outcome) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { l.Run(ctx, pass) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func TestLoopTriggerCutsBackoffShort(t *testing.T) {
	// A failing pass waits an hour before its retry: only a trigger can run
	// the next pass within the test.
	l := NewLoop(LoopConfig{BackoffMin: time.Hour, BackoffMax: time.Hour})
	passes := make(chan int, 10)
	n := 0
	runLoop(t, l, func(context.Context, bool) Outcome {
		n++
		passes <- n
		if n == 1 {
			return Outcome{Err: errors.New("switch unreachable")}
		}
		return Outcome{Changed: true}
	})
	l.Trigger()
	if got := <-passes; got != 1 {
		t.Fatalf("first pass = %d; want 1", got)
	}
	l.Trigger()
	select {
	case got := <-passes:
		if got != 2 {
			t.Fatalf("pass after trigger = %d; want 2", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a trigger during the backoff did not run a pass")
	}
}

func TestLoopRetriesFailures(t *testing.T) {
	l := NewLoop(LoopConfig{BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond})
	done := make(chan struct{})
	n := 0
	runLoop(t, l, func(context.Context, bool) Outcome {
		n++
		if n < 4 {
			return Outcome{Err: errors.New("transient")}
		}
		if n == 4 {
			close(done)
		}
		return Outcome{}
	})
	l.Trigger()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("after %d passes: failed passes were not retried without a trigger", n)
	}
}

func TestLoopAfterAndResync(t *testing.T) {
	l := NewLoop(LoopConfig{Resync: 5 * time.Millisecond})
	resynced, again := make(chan struct{}), make(chan struct{})
	var onceR, onceA sync.Once
	n := 0
	runLoop(t, l, func(_ context.Context, resync bool) Outcome {
		n++
		if resync {
			onceR.Do(func() { close(resynced) })
		}
		if n == 1 {
			return Outcome{After: time.Millisecond}
		}
		if n == 2 {
			onceA.Do(func() { close(again) })
		}
		return Outcome{}
	})
	l.Trigger()
	for name, ch := range map[string]chan struct{}{"run again after": again, "resync": resynced} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s pass", name)
		}
	}
}

func TestLoopMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.NewReconcile(reg, "test")
	l := NewLoop(LoopConfig{Metrics: m, BackoffMin: time.Hour, BackoffMax: time.Hour})
	results := []Outcome{{Changed: true}, {}, {Err: errors.New("x")}}
	passes := make(chan struct{}, len(results))
	n := 0
	runLoop(t, l, func(context.Context, bool) Outcome {
		o := results[n]
		n++
		defer func() { passes <- struct{}{} }()
		return o
	})
	for range results {
		l.Trigger()
		<-passes
	}
	runs := func(result string) float64 {
		c, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range c {
			if mf.GetName() != "l2gw_reconcile_runs_total" {
				continue
			}
			for _, mm := range mf.GetMetric() {
				for _, lp := range mm.GetLabel() {
					if lp.GetName() == "result" && lp.GetValue() == result {
						return mm.GetCounter().GetValue()
					}
				}
			}
		}
		return -1
	}
	// The pass is recorded just after it returns: poll briefly.
	deadline := time.Now().Add(5 * time.Second)
	for runs(metrics.ResultError) != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	for _, r := range []string{metrics.ResultOK, metrics.ResultNoop, metrics.ResultError} {
		if got := runs(r); got != 1 {
			t.Errorf("runs{result=%q} = %v; want 1", r, got)
		}
	}
	if got := testutil.CollectAndCount(reg, "l2gw_reconcile_duration_seconds"); got != 1 {
		t.Errorf("duration series = %d; want 1", got)
	}
}

func TestMailbox(t *testing.T) {
	m := NewMailbox[int]()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	var mu sync.Mutex
	var sent []int
	fail := true
	block, busy := make(chan struct{}), make(chan struct{})
	got := make(chan int, 100)
	wg.Go(func() {
		m.Run(ctx, MailboxConfig{BackoffMin: time.Hour, BackoffMax: time.Hour}, func(ctx context.Context, v int) error {
			if v == 1 {
				close(busy)
				<-block // a slow receiver
			}
			mu.Lock()
			defer mu.Unlock()
			if v == 2 && fail {
				fail = false
				return errors.New("refused")
			}
			sent = append(sent, v)
			got <- v
			return nil
		})
	})
	m.Put(1)
	<-busy
	// Put never blocks while the receiver is slow; the values in between
	// are replaced by the latest.
	for v := 10; v < 20; v++ {
		m.Put(v)
	}
	m.Put(2)
	close(block)
	if v := <-got; v != 1 {
		t.Fatalf("first sent = %d; want 1", v)
	}
	// 2 fails once; the retry waits an hour, but a newer value goes at once.
	m.Put(3)
	if v := <-got; v != 3 {
		t.Fatalf("after a failed send of 2 and a put of 3, sent %d; want 3", v)
	}
	m.Resend()
	if v := <-got; v != 3 {
		t.Fatalf("resend sent %d; want 3", v)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []int{1, 3, 3}
	if len(sent) != len(want) || sent[0] != 1 || sent[1] != 3 || sent[2] != 3 {
		t.Errorf("sent %v; want %v", sent, want)
	}
}
