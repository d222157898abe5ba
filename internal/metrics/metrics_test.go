package metrics

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Two instances on one registry share the metrics: runs add up, queue
// depths are summed.
func TestReconcileShared(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewReconcile(reg, "switchagent"), NewReconcile(reg, "switchagent")
	h := NewReconcile(reg, "hostagent")
	start := time.Now()
	a.Done(start, ResultOK)
	b.Done(start, ResultOK)
	b.Done(start, ResultError)
	h.Done(start, ResultNoop)
	a.SetQueue(3)
	b.SetQueue(2)
	a.SetQueue(1)
	h.SetQueue(1)
	h.SetQueue(0)

	want := `
# HELP l2gw_reconcile_queue_depth Work waiting for the next reconcile run by component (switch agent: plan deltas; host agent and soft VTEP: 1 while a run is requested), summed over the component's instances.
# TYPE l2gw_reconcile_queue_depth gauge
l2gw_reconcile_queue_depth{component="hostagent"} 0
l2gw_reconcile_queue_depth{component="switchagent"} 3
# HELP l2gw_reconcile_runs_total Reconcile runs by component and result (ok: changes applied, error: failed, noop: nothing to do).
# TYPE l2gw_reconcile_runs_total counter
l2gw_reconcile_runs_total{component="hostagent",result="error"} 0
l2gw_reconcile_runs_total{component="hostagent",result="noop"} 1
l2gw_reconcile_runs_total{component="hostagent",result="ok"} 0
l2gw_reconcile_runs_total{component="switchagent",result="error"} 1
l2gw_reconcile_runs_total{component="switchagent",result="noop"} 0
l2gw_reconcile_runs_total{component="switchagent",result="ok"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "l2gw_reconcile_runs_total", "l2gw_reconcile_queue_depth"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(reg, "l2gw_reconcile_duration_seconds"); got != 2 {
		t.Errorf("duration series = %d; want 2 (one per component)", got)
	}
}

// A nil registerer still gives working (unregistered) metrics.
func TestReconcileNilRegisterer(t *testing.T) {
	r := NewReconcile(nil, "softvtep")
	r.Done(time.Now(), ResultOK)
	r.SetQueue(1)
	if got := testutil.ToFloat64(r.runs.WithLabelValues(ResultOK)); got != 1 {
		t.Errorf("runs{ok} = %v; want 1", got)
	}
}

func TestServe(t *testing.T) {
	reg := NewRegistry()
	NewReconcile(reg, "softvtep").Done(time.Now(), ResultOK)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, reg, nil) }()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `l2gw_reconcile_runs_total{component="softvtep",result="ok"} 1`) || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics = %d\n%s; want 200 with l2gw_reconcile_runs_total and go_goroutines", code, body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz = %d %q; want 200 \"ok\\n\"", code, body)
	}
	http.DefaultClient.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v; want nil after cancel", err)
	}
}

// Counter registers once per registry: a second caller gets the same
// counter, and a nil registry leaves it unregistered but counting.
func TestCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := Counter(reg, "l2gw_test_things_total", "Things.")
	b := Counter(reg, "l2gw_test_things_total", "Things.")
	a.Inc()
	b.Inc()
	if got := testutil.ToFloat64(a); got != 2 {
		t.Errorf("shared counter = %v; want 2", got)
	}
	if n, err := testutil.GatherAndCount(reg, "l2gw_test_things_total"); err != nil || n != 1 {
		t.Errorf("GatherAndCount = %d, %v; want 1 series", n, err)
	}
	c := Counter(nil, "l2gw_test_things_total", "Things.")
	c.Inc()
	if got := testutil.ToFloat64(c); got != 1 {
		t.Errorf("unregistered counter = %v; want 1", got)
	}
}
