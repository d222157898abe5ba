package switchagent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
)

// agentMetrics are an agent's metrics: the shared reconcile ones
// (component "switchagent"; the queue depth is the plan deltas waiting for
// the worker) and the OVSDB side's. Agents sharing a registry share them.
type agentMetrics struct {
	rec       *metrics.Reconcile
	connected *metrics.Gauge      // l2gw_switchagent_ovsdb_connected
	txOps     prometheus.Observer // l2gw_switchagent_transaction_operations
	collapsed prometheus.Counter  // l2gw_switchagent_plan_deltas_collapsed_total
	fenced    prometheus.Counter  // l2gw_switchagent_fenced_transactions_total
	released  prometheus.Counter  // l2gw_switchagent_memory_releases_total
	// remoteRows are l2gw_switchagent_remote_mac_rows_total by kind
	// (rowKindNames).
	remoteRows [rowKinds]prometheus.Counter
}

func newAgentMetrics(reg prometheus.Registerer) *agentMetrics {
	rows := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "l2gw_switchagent_remote_mac_rows_total",
		Help: "Ucast_Macs_Remote rows received from the agents' own monitor of the table, by kind (initial, insert, modify, delete); inserts are not asked for.",
	}, []string{"kind"}))
	m := &agentMetrics{
		rec: metrics.NewReconcile(reg, "switchagent"),
		connected: metrics.NewGauge(metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "l2gw_switchagent_ovsdb_connected",
			Help: "OVSDB sessions of switch agents that are connected (1 per connected database, whatever the switches it holds).",
		}))),
		txOps: metrics.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "l2gw_switchagent_transaction_operations",
			Help:    "Operations per OVSDB transaction written by switch agents.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9), // 1 .. 65536
		})),
		collapsed: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l2gw_switchagent_plan_deltas_collapsed_total",
			Help: "Times the queue of plan deltas waiting for a busy worker was collapsed into a whole plan.",
		})),
		fenced: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l2gw_switchagent_fenced_transactions_total",
			Help: "Transactions that failed on their lease epoch fence: another agent had taken the switch over.",
		})),
		released: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "l2gw_switchagent_memory_releases_total",
			Help: "Times a switch agent returned the process's free memory to the OS after writing a bulk transaction (release.go).",
		})),
	}
	for k, name := range rowKindNames {
		m.remoteRows[k] = rows.WithLabelValues(name)
	}
	return m
}
