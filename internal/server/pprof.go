package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/l2gw/l2gw/internal/metrics"
)

// pprofHandler serves net/http/pprof under /debug/pprof/ on its own mux:
// importing net/http/pprof registers on http.DefaultServeMux, which l2gw
// never serves, so the profiles are reachable only on the --pprof-addr
// listener.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprof serves the profiles on ln until ctx is done. A CPU profile or
// trace runs for as long as its seconds= asks, so there is no write
// timeout.
func servePprof(ctx context.Context, ln net.Listener, log *slog.Logger) error {
	return metrics.ServeHandler(ctx, ln, "pprof", pprofHandler(), log)
}
