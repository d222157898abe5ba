package agentapi

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
)

// handlerMetrics are the agent endpoints' metrics (Config.Registerer).
type handlerMetrics struct {
	requests *prometheus.CounterVec // l2gw_agentapi_requests_total{method,route,code}
	streams  *prometheus.GaugeVec   // l2gw_agentapi_plan_streams{kind}
	// gateClosed is l2gw_agentapi_database_unreachable (dbgate.go).
	gateClosed prometheus.Gauge
}

func newHandlerMetrics(reg prometheus.Registerer) *handlerMetrics {
	m := &handlerMetrics{
		requests: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "l2gw_agentapi_requests_total",
			Help: "Agent protocol requests by method, route pattern and status code (plan streams count when they end).",
		}, []string{"method", "route", "code"})),
		streams: metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "l2gw_agentapi_plan_streams",
			Help: "Plan streams open to agents by kind (switch, host).",
		}, []string{"kind"})),
		gateClosed: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "l2gw_agentapi_database_unreachable",
			Help: "1 while this server cannot reach its database and so serves no plan streams (agents move to another server), else 0.",
		})),
	}
	// Both kinds from the start: none open reads 0, not absent.
	m.streams.WithLabelValues("switch")
	m.streams.WithLabelValues("host")
	return m
}

// count counts the requests fn answers under route.
func (h *Handler) count(route string, fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &metrics.StatusWriter{ResponseWriter: w}
		defer func() {
			h.m.requests.WithLabelValues(r.Method, route, strconv.Itoa(sw.Code())).Inc()
		}()
		fn(sw, r)
	}
}
