package planfeed

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
)

// feedMetrics are the feed's metrics (Config.Registerer).
type feedMetrics struct {
	revision  prometheus.Gauge   // l2gw_planfeed_revision
	batches   prometheus.Counter // l2gw_planfeed_follow_batches_total
	changes   prometheus.Counter // l2gw_planfeed_changes_total
	snapshots prometheus.Counter // l2gw_planfeed_snapshots_total
}

func newFeedMetrics(reg prometheus.Registerer) *feedMetrics {
	return &feedMetrics{
		revision: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "l2gw_planfeed_revision",
			Help: "Store revision the plans served by the plan feed reflect.",
		})),
		batches: metrics.Counter(reg, "l2gw_planfeed_follow_batches_total",
			"Batches of store changes the plan feed read and applied to the plans."),
		changes: metrics.Counter(reg, "l2gw_planfeed_changes_total",
			"Store changes the plan feed applied to the plans."),
		snapshots: metrics.Counter(reg, "l2gw_planfeed_snapshots_total",
			"Whole store snapshots the plan feed rebuilt the plans from (at start and after compaction)."),
	}
}
