package switchagent

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"

	"github.com/l2gw/l2gw/internal/vtepmodel/vtep"
)

// session is a pair of OVSDB connections to the switch: client monitors
// the tables but Ucast_Macs_Remote into libovsdb's cache, txn sends
// transactions (txnconn.go) and monitors Ucast_Macs_Remote into remote
// (remotemacs.go). Two connections because libovsdb decodes monitor
// updates on the connection's read loop: on one connection the reply of a
// transaction would wait until the cache had decoded the row updates it
// caused.
//
// A session is dead once either connection ends, an echo probe
// fails or a transaction cannot be sent; the session loop then closes it
// and dials a new one (fresh clients and cache: nothing is reused).
type session struct {
	gen    uint64 // unique per agent, from 1: tells a new session from the last one
	client client.Client
	txn    *txnConn
	remote *remoteView
	cancel context.CancelFunc
	wg     sync.WaitGroup

	dead         chan struct{}
	deadOnce     sync.Once
	reason       string
	disconnected [2]chan struct{} // closed when each connection (client, txn) was seen to end
	mu           sync.Mutex

	evMu      sync.Mutex
	macEvents []macEvent // unread Ucast_Macs_Remote events (see incremental.go)
	evFull    bool       // the next sync must diff in full
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
	timeout := time.After(2 * time.Second)
	if s.client != nil {
		s.client.Close()
		select {
		case <-s.disconnected[0]:
		case <-timeout:
		}
	}
	if s.txn != nil {
		s.txn.Close()
	}
	s.cancel()
	s.wg.Wait()
}

// watch fails the session when the connection's gone channel is closed
// (libovsdb's disconnect notification, the transaction connection's end);
// disconnected is closed then too.
func (s *session) watch(ctx context.Context, gone <-chan struct{}, disconnected chan struct{}) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-gone:
			close(disconnected)
			s.fail("disconnected")
		case <-ctx.Done():
		}
	}()
}

func (a *Agent) newClient(ctx context.Context) (client.Client, error) {
	opts := []client.Option{client.WithEndpoint(a.cfg.Target), client.WithLogger(&a.logr)}
	if a.cfg.TLS != nil {
		opts = append(opts, client.WithTLSConfig(a.cfg.TLS))
	}
	c, err := client.NewOVSDBClient(a.dbModel, opts...)
	if err != nil {
		return nil, fmt.Errorf("ovsdb client: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dial connects, monitors the tables the agent needs and starts the
// session's disconnect watcher and echo prober.
func (a *Agent) dial(ctx context.Context) (*session, error) {
	cctx, cancelDial := context.WithTimeout(ctx, a.cfg.ConnectTimeout)
	defer cancelDial()
	c, err := a.newClient(cctx)
	if err != nil {
		return nil, err
	}
	// The session outlives ctx until close: its disconnect watchers must see
	// libovsdb's notification after Close.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a.sessions++
	s := &session{gen: a.sessions, client: c, cancel: cancel, dead: make(chan struct{}),
		disconnected: [2]chan struct{}{make(chan struct{}), make(chan struct{})}}
	s.watch(sctx, c.DisconnectNotify(), s.disconnected[0])
	onEvent := func() {
		signal(a.cacheEvent)
		a.enqueue()
	}
	s.remote = newRemoteView(func(kind, n int) { a.m.remoteRows[kind].Add(float64(n)) })
	// The Ucast_Macs_Remote monitor's notifications, in the reader of the
	// transaction connection (remotemacs.go).
	notify := func(method string, params json.RawMessage) {
		if method != "update2" {
			return
		}
		changed := false
		err := s.remote.update(params, func(old, new *vtep.UcastMacsRemote) {
			s.addMACEvent(old, new)
			changed = true
		})
		if err != nil {
			s.fail("monitor update: " + err.Error())
			return
		}
		if changed || s.remote.needsRebuild() {
			onEvent()
		}
	}
	txn, err := dialTxn(cctx, a.cfg.Target, a.dbModel.Name(), a.cfg.TLS, notify)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("transaction connection: %w", err)
	}
	s.txn = txn
	s.watch(sctx, txn.Done(), s.disconnected[1])
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc: func(string, model.Model) { onEvent() },
		UpdateFunc: func(t string, _, _ model.Model) {
			if t == vtep.PhysicalLocatorTable {
				s.markFull() // the remote MACs' locator IPs may have changed
			}
			onEvent()
		},
		DeleteFunc: func(string, model.Model) { onEvent() },
	})
	var mopts []client.MonitorOption
	for _, m := range monitoredModels() {
		mopts = append(mopts, client.WithTable(m))
	}
	if _, err := c.Monitor(cctx, c.NewMonitor(mopts...)); err != nil {
		s.close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if err := s.remote.monitor(cctx, txn); err != nil {
		s.close()
		return nil, err
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
		if err == nil {
			err = s.txn.Echo(ectx)
		}
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
