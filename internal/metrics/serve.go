package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry holding the Go runtime and process
// collectors, for a command's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	Register(reg, collectors.NewGoCollector())
	Register(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg on GET /metrics and "ok" on GET /healthz.
func Handler(reg *prometheus.Registry) http.Handler { return HandlerWith(reg, nil) }

// HandlerWith is Handler whose /healthz answers 503 while health (when not
// nil) fails, e.g. the server's probe of its database (see Healthz).
func HandlerWith(reg *prometheus.Registry, health func(context.Context) error) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.Handle("GET /healthz", Healthz(health, nil))
	return mux
}

// HealthTimeout bounds a /healthz probe: a frozen database must fail the
// check, not hang it.
const HealthTimeout = 5 * time.Second

// Healthz is the /healthz handler of the API and of the metrics
// listeners: "ok" (200) while check (nil: none) passes within
// HealthTimeout, else 503 and, when log is not nil, a warning naming the
// error.
func Healthz(check func(context.Context) error, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if check != nil {
			ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
			err := check(ctx)
			cancel()
			if err != nil {
				if log != nil {
					log.WarnContext(r.Context(), "health check: store unavailable", "err", err)
				}
				http.Error(w, "store unavailable", http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	}
}

// Serve serves Handler(reg) on ln until ctx is done, then shuts the server
// down (scrapes in flight get a second) and returns nil; it returns an error
// only when serving fails. It closes ln.
func Serve(ctx context.Context, ln net.Listener, reg *prometheus.Registry, log *slog.Logger) error {
	return ServeWith(ctx, ln, reg, nil, log)
}

// ServeWith is Serve with HandlerWith's health check.
func ServeWith(ctx context.Context, ln net.Listener, reg *prometheus.Registry, health func(context.Context) error, log *slog.Logger) error {
	return ServeHandler(ctx, ln, "metrics", HandlerWith(reg, health), log)
}

// ServeHandler serves h on ln until ctx is done, then shuts the server
// down, closing what is still busy a second later (a CPU profile that
// runs for its seconds=, a client that does not read); what names the
// server in errors.
func ServeHandler(ctx context.Context, ln net.Listener, what string, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", what, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", what, err)
	}
	return nil
}
