package api_test

import (
	"net/http"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
)

func TestMetricsExposure(t *testing.T) {
	tests := []struct {
		name string
		cfg  api.Config
		want int
	}{
		{"default serves anyone", api.Config{Authenticator: denyAll{}}, http.StatusOK},
		{"metrics auth refuses without credentials", api.Config{Authenticator: denyAll{}, MetricsAuth: true}, http.StatusUnauthorized},
		{"metrics auth serves an admin", api.Config{Authenticator: api.NoAuth{}, MetricsAuth: true}, http.StatusOK},
		{"no metrics", api.Config{NoMetrics: true}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.cfg)
			if r := e.do("GET", "/metrics", ""); r.status != tt.want {
				t.Errorf("GET /metrics = %d %s; want %d", r.status, r.body, tt.want)
			}
		})
	}
}
