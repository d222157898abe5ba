// Package server runs l2gw's API server: it opens the store, listens, serves
// the northbound API and stops cleanly when its context ends. Later roles
// (embedded agents, switch sessions) plug in as Components.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/store"
)

// DefaultShutdownTimeout bounds the drain of in-flight requests at stop.
const DefaultShutdownTimeout = 10 * time.Second

// Component is a part that runs beside the API with the same store (an
// embedded agent, a switch session...). It must return when ctx is done; an
// error return stops the whole server.
type Component func(ctx context.Context, st store.Store) error

// Config is the server's configuration; Bind and Database are required.
type Config struct {
	Bind     string // host:port; port 0 picks a free port
	Database string // store DSN (sqlite://…, postgres://…)
	Store    store.Config
	API      api.Config
	Logger   *slog.Logger // nil discards
	// ShutdownTimeout bounds the drain at stop; zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Components run beside the API until the server stops.
	Components []Component
	// Listening, when set, is called with the actual listen address once the
	// server is ready to answer.
	Listening func(addr net.Addr)
}

// Run listens on cfg.Bind, opens the store and serves until ctx is done or a
// component fails; it then drains requests, stops the components and closes
// the store. It returns nil after a clean stop by ctx.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	// Listen first: a taken port fails before any database work.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Bind)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Bind, err)
	}
	if cfg.Store.Logger == nil {
		cfg.Store.Logger = log
	}
	st, err := store.Open(ctx, cfg.Database, cfg.Store)
	if err != nil {
		ln.Close()
		return fmt.Errorf("open store: %w", err)
	}
	if cfg.API.Logger == nil {
		cfg.API.Logger = log
	}
	srv := &http.Server{
		Handler:           api.New(st, cfg.API),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(cfg.Components)+1)
	var wg sync.WaitGroup
	for _, c := range cfg.Components {
		wg.Go(func() {
			if err := c(runCtx, st); err != nil && runCtx.Err() == nil {
				errc <- fmt.Errorf("component: %w", err)
				cancel()
			}
		})
	}
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve: %w", err)
			cancel()
		}
	})
	log.Info("listening", "addr", ln.Addr().String())
	if cfg.Listening != nil {
		cfg.Listening(ln.Addr())
	}

	<-runCtx.Done()
	log.Info("shutting down", "drain_timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer scancel()
	var errs []error
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
		srv.Close()
	}
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		errs = append(errs, err)
	}
	if err := st.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	log.Info("stopped")
	return errors.Join(errs...)
}
