package agentapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/testenv"
)

// metricValue is the value of the counter or gauge name with exactly the
// given labels on reg (0 when absent).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour, Registerer: reg})
	e.seed()
	streams := func() float64 {
		return metricValue(t, reg, "l2gw_agentapi_plan_streams", map[string]string{"kind": "switch"})
	}
	requests := func(method, route, code string) float64 {
		return metricValue(t, reg, "l2gw_agentapi_requests_total", map[string]string{"method": method, "route": route, "code": code})
	}

	st := e.openStream(agentwire.SwitchPlanPath("sw1"), 0)
	if ev := st.next(); ev.Type != planner.EventSnapshot {
		t.Fatalf("first event = %+v; want a snapshot", ev)
	}
	if got := streams(); got != 1 {
		t.Errorf("plan streams{switch} with a stream open = %v; want 1", got)
	}
	if code, _ := e.do("DELETE", agentwire.SwitchReportPath("sw1"), ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE report = %d; want 405", code)
	}
	if code, _ := e.do("PUT", agentwire.SwitchStatusPath("sw1"), `{"connected":true}`); code != http.StatusNoContent {
		t.Fatalf("PUT status = %d; want 204", code)
	}
	if code, _ := e.do("GET", agentwire.Prefix+"/routers", ""); code != http.StatusNotFound {
		t.Fatalf("GET unknown = %d; want 404", code)
	}
	for _, c := range []struct {
		method, route, code string
	}{
		{"DELETE", agentwire.Prefix + "/switches/{name}/report", "405"},
		{"PUT", agentwire.Prefix + "/switches/{name}/status", "204"},
		{"GET", "other", "404"},
	} {
		if got := requests(c.method, c.route, c.code); got != 1 {
			t.Errorf("requests{%s %s %s} = %v; want 1", c.method, c.route, c.code, got)
		}
	}

	// A plan stream counts as a request when it ends.
	st.close()
	testenv.Eventually(t, 20*time.Second, "stream closed in the metrics", func() (bool, string) {
		s, r := streams(), requests("GET", agentwire.Prefix+"/switches/{name}/plan", "200")
		return s == 0 && r == 1, fmt.Sprintf("streams %v, plan requests %v", s, r)
	})
}
