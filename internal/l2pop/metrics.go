package l2pop

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
)

// runnerMetrics are the Runner's own metrics; its passes count in
// l2gw_reconcile_* with component "l2pop".
type runnerMetrics struct {
	casts     *prometheus.CounterVec
	connected prometheus.Gauge
}

func newRunnerMetrics(reg prometheus.Registerer) *runnerMetrics {
	return &runnerMetrics{
		casts: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "l2gw_l2pop_casts_total",
			Help: "l2pop casts the broker confirmed, by method (add_fdb_entries, remove_fdb_entries) and target (fanout, host).",
		}, []string{"method", "target"})),
		connected: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "l2gw_l2pop_broker_connected",
			Help: "1 while the l2pop sender is connected to RabbitMQ, else 0.",
		})),
	}
}

func (m *runnerMetrics) sent(casts []cast) {
	for _, c := range casts {
		target := "fanout"
		if c.Host != "" {
			target = "host"
		}
		m.casts.WithLabelValues(c.Method, target).Inc()
	}
}
