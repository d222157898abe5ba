package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHandlerWithHealth: /healthz follows the health check it is given.
func TestHandlerWithHealth(t *testing.T) {
	var failing error
	h := HandlerWith(NewRegistry(), func(context.Context) error { return failing })
	for _, tc := range []struct {
		err  error
		want int
	}{{nil, http.StatusOK}, {errors.New("database unavailable"), http.StatusServiceUnavailable}, {nil, http.StatusOK}} {
		failing = tc.err
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
		if rec.Code != tc.want {
			t.Errorf("/healthz with health error %v = %d; want %d", tc.err, rec.Code, tc.want)
		}
	}
}
