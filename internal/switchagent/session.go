package switchagent

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
)

// session is one OVSDB connection with its monitor. It is dead once libovsdb
// reports the disconnect, an echo probe fails or a transaction cannot be
// sent; the session loop then closes it and dials a new one (a fresh client
// and cache: nothing of the old session is reused).
type session struct {
	client client.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dead         chan struct{}
	deadOnce     sync.Once
	reason       string
	disconnected chan struct{} // closed when libovsdb reported the disconnect
	mu           sync.Mutex
}

func (s *session) fail(why string) {
	s.deadOnce.Do(func() {
		s.mu.Lock()
		s.reason = why
		s.mu.Unlock()
		close(s.dead)
	})
}

func (s *session) why() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// close disconnects and waits for the session's goroutines (and libovsdb's
// disconnect handling) to finish.
func (s *session) close() {
	s.client.Close()
	select {
	case <-s.disconnected:
	case <-time.After(2 * time.Second):
	}
	s.cancel()
	s.wg.Wait()
}

// dial connects, monitors the tables the agent needs and starts the
// session's disconnect watcher and echo prober.
func (a *Agent) dial(ctx context.Context) (*session, error) {
	opts := []client.Option{client.WithEndpoint(a.cfg.Target), client.WithLogger(&a.logr)}
	if a.cfg.TLS != nil {
		opts = append(opts, client.WithTLSConfig(a.cfg.TLS))
	}
	c, err := client.NewOVSDBClient(a.dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("ovsdb client: %w", err)
	}
	cctx, cancelDial := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	defer cancelDial()
	if err := c.Connect(cctx); err != nil {
		c.Close()
		return nil, err
	}
	// The session outlives ctx until close: its disconnect watcher must see
	// libovsdb's notification after Close.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &session{client: c, cancel: cancel, dead: make(chan struct{}), disconnected: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-c.DisconnectNotify():
			close(s.disconnected)
			s.fail("disconnected")
		case <-sctx.Done():
		}
	}()
	onEvent := func(string) {
		signal(a.cacheEvent)
		a.enqueue()
	}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(t string, _ model.Model) { onEvent(t) },
		UpdateFunc: func(t string, _, _ model.Model) { onEvent(t) },
		DeleteFunc: func(t string, _ model.Model) { onEvent(t) },
	})
	var mopts []client.MonitorOption
	for _, m := range monitoredModels() {
		mopts = append(mopts, client.WithTable(m))
	}
	if _, err := c.Monitor(cctx, c.NewMonitor(mopts...)); err != nil {
		s.close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if a.cfg.ProbeInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.probe(sctx, a.cfg.ProbeInterval)
		}()
	}
	return s, nil
}

// probe sends an echo every interval and fails the session when one is not
// answered within the interval (RFC 7047 section 4.1.11).
func (s *session) probe(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.dead:
			return
		case <-t.C:
		}
		ectx, cancel := context.WithTimeout(ctx, interval)
		err := s.client.Echo(ectx)
		cancel()
		if err != nil && ctx.Err() == nil {
			s.fail("echo: " + err.Error())
			return
		}
	}
}

func hasRow(tc *cache.TableCache, r rowRef) bool {
	if tc == nil {
		return false
	}
	rc := tc.Table(r.table)
	return rc != nil && rc.HasRow(r.uuid)
}
