package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
)

// metricsBindUsage is the help of the agents' --metrics-bind flag.
const metricsBindUsage = "serve /metrics and /healthz on this host:port (port 0 picks one; default off)"

// startMetrics serves reg on /metrics and /healthz at bind (empty: nothing)
// until stop is called or ctx is done, logging the actual address as
// "listening". stop ends the server and returns once it has stopped, with
// the error that ended it early, if any.
func startMetrics(ctx context.Context, bind string, reg *prometheus.Registry, log *slog.Logger) (stop func() error, err error) {
	if bind == "" {
		return func() error { return nil }, nil
	}
	if _, _, err := net.SplitHostPort(bind); err != nil {
		return nil, fmt.Errorf("--metrics-bind %q: %w", bind, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("--metrics-bind: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "serves", "metrics")
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- metrics.Serve(ctx, ln, reg, log) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}
