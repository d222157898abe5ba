// Package metrics holds what l2gw's parts share for Prometheus: Register,
// the one way every package registers a collector; the reconcile metrics of
// the switch agent, host agent and soft VTEP (Reconcile) and per-instance
// gauges summed over instances (Gauge); StatusWriter, which records the
// status of an HTTP response for request counters; and the registry and
// small HTTP server (NewRegistry, Handler, Serve) that expose /metrics and
// /healthz for the agent commands.
//
// Every constructor takes a prometheus.Registerer: nil means the metrics
// are created but not registered, so callers never check for nil. Several
// instances registering the same metric on one registry (two embedded
// switch agents in a server, two API handlers) share it: counters and
// histograms add up, and gauges set through Reconcile.SetQueue or Gauge.Set
// are summed over instances.
package metrics

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of one reconcile run, the values of the result label.
const (
	ResultOK    = "ok"    // changes applied
	ResultError = "error" // failed; retried with backoff
	ResultNoop  = "noop"  // nothing to do (in sync, or nothing to reconcile yet)
)

// Register registers c on reg and returns it; when reg already holds an
// equal collector (same name, help and labels) it returns that one instead,
// so instances in one process share their metrics. A nil reg, or a
// conflicting collector, leaves c unregistered (it still counts).
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if ex, ok := are.ExistingCollector.(C); ok {
				return ex
			}
		}
	}
	return c
}

// Counter registers, as Register does, the counter name with help, and
// returns it.
func Counter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	return Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// Gauge is one instance's share of a gauge summed over instances: Set
// moves the shared gauge by the difference to the instance's last value.
type Gauge struct {
	g    prometheus.Gauge
	mu   sync.Mutex
	last float64
}

// NewGauge returns the instance's share of g (registered by the caller).
func NewGauge(g prometheus.Gauge) *Gauge { return &Gauge{g: g} }

// Set sets the instance's value.
func (g *Gauge) Set(v float64) {
	g.mu.Lock()
	g.g.Add(v - g.last)
	g.last = v
	g.mu.Unlock()
}

// Reconcile is the metrics of one reconciler instance, labelled by
// component ("switchagent", "hostagent", "softvtep"):
//
//	l2gw_reconcile_runs_total{component,result}  runs by result (ok, error, noop)
//	l2gw_reconcile_duration_seconds{component}   time per run
//	l2gw_reconcile_queue_depth{component}        work waiting for the next run
type Reconcile struct {
	runs     *prometheus.CounterVec // curried with component
	duration prometheus.Observer
	queue    *Gauge
}

// NewReconcile returns the reconcile metrics of component, registered on
// reg (nil: not registered).
func NewReconcile(reg prometheus.Registerer, component string) *Reconcile {
	runs := Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "l2gw_reconcile_runs_total",
		Help: "Reconcile runs by component and result (ok: changes applied, error: failed, noop: nothing to do).",
	}, []string{"component", "result"}))
	dur := Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "l2gw_reconcile_duration_seconds",
		Help:    "Time of one reconcile run by component.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"component"}))
	queue := Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "l2gw_reconcile_queue_depth",
		Help: "Work waiting for the next reconcile run by component (switch agent: plan deltas; host agent and soft VTEP: 1 while a run is requested), summed over the component's instances.",
	}, []string{"component"}))
	r := &Reconcile{
		runs:     runs.MustCurryWith(prometheus.Labels{"component": component}),
		duration: dur.WithLabelValues(component),
		queue:    NewGauge(queue.WithLabelValues(component)),
	}
	// Show every result from the start (a rate over a missing series is empty, not 0).
	for _, res := range []string{ResultOK, ResultError, ResultNoop} {
		r.runs.WithLabelValues(res)
	}
	return r
}

// Done records a run that started at start and ended with result.
func (r *Reconcile) Done(start time.Time, result string) {
	r.runs.WithLabelValues(result).Inc()
	r.duration.Observe(time.Since(start).Seconds())
}

// SetQueue sets the instance's queue depth.
func (r *Reconcile) SetQueue(n int) { r.queue.Set(float64(n)) }
