package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/reconcile"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/switchagent"
)

// AgentConfig tunes an AgentLink; zero values take the documented defaults.
type AgentConfig struct {
	// BackoffMin and BackoffMax bound the capped exponential backoff between
	// plan stream reconnections. Defaults 100ms and 30s.
	BackoffMin, BackoffMax time.Duration
	// IdleTimeout is how long a plan stream may stay silent before it is
	// taken as dead and reopened. Zero: three times the keepalive interval
	// the server announces, or 45s when it announces none.
	IdleTimeout time.Duration
	// RequestTimeout bounds reports, status updates and registrations.
	// Default 30s.
	RequestTimeout time.Duration
	// Logger receives reconnections (Warn) and stream detail (Debug); nil discards.
	Logger *slog.Logger
}

// AgentLink is an agent's link to the server over the agent protocol
// (internal/agentwire): it implements switchagent.Plans and
// switchagent.Reporter, and hostagent.Plans and hostagent.Registrar.
type AgentLink struct {
	c   *Client
	cfg AgentConfig
	log *slog.Logger
}

var (
	_ switchagent.Plans    = (*AgentLink)(nil)
	_ switchagent.Reporter = (*AgentLink)(nil)
	_ hostagent.Plans      = (*AgentLink)(nil)
	_ hostagent.Registrar  = (*AgentLink)(nil)
)

// NewAgentLink returns the agent link through c (its URL, token and HTTP
// client). The HTTP client must not time out whole requests (plan streams
// last as long as the agent), as http.DefaultClient does not.
func NewAgentLink(c *Client, cfg AgentConfig) *AgentLink {
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(30*time.Second, cfg.BackoffMin)
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AgentLink{c: c, cfg: cfg, log: log}
}

// ReportSwitch implements switchagent.Reporter.
func (l *AgentLink) ReportSwitch(ctx context.Context, r store.SwitchReport) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.do(ctx, http.MethodPost, agentwire.SwitchReportPath(r.Switch.Name), nil, agentwire.FromSwitchReport(r), nil)
}

// SetSwitchStatus implements switchagent.Reporter.
func (l *AgentLink) SetSwitchStatus(ctx context.Context, s store.SwitchStatus) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.do(ctx, http.MethodPut, agentwire.SwitchStatusPath(s.Name), nil, agentwire.FromSwitchStatus(s), nil)
}

// RegisterHost implements hostagent.Registrar. The server records its own
// time as the heartbeat; at is not sent.
func (l *AgentLink) RegisterHost(ctx context.Context, name, vtepIP string, _ time.Time) (model.Host, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	var resp agentwire.HostResponse
	if err := l.c.do(ctx, http.MethodPost, agentwire.HostRegisterPath(name), nil, agentwire.HostRegistration{VTEPIP: vtepIP}, &resp); err != nil {
		return model.Host{}, err
	}
	return agentwire.ToModel(resp.Host), nil
}

// WatchSwitch implements switchagent.Plans: the returned channel carries
// the switch's plan as the server streams it, whole, the latest only. The
// stream is reopened after any failure with capped backoff, resuming from
// the last revision received; the channel is closed only when ctx is done.
func (l *AgentLink) WatchSwitch(ctx context.Context, name string) (<-chan switchagent.PlanUpdate, error) {
	return watchPlans(ctx, l, agentwire.SwitchPlanPath(name), "switch", name,
		func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) },
		func(rev int64, p planner.SwitchPlan) switchagent.PlanUpdate {
			return switchagent.PlanUpdate{Revision: rev, Plan: p.Clone()}
		}), nil
}

// WatchHost implements hostagent.Plans, as WatchSwitch does for switches.
func (l *AgentLink) WatchHost(ctx context.Context, name string) (<-chan hostagent.PlanUpdate, error) {
	return watchPlans(ctx, l, agentwire.HostPlanPath(name), "host", name,
		func(p *planner.HostPlan, d planner.HostDelta) { p.Apply(d) },
		func(rev int64, p planner.HostPlan) hostagent.PlanUpdate {
			return hostagent.PlanUpdate{Revision: rev, Plan: p.Clone()}
		}), nil
}

// planState is a watcher's copy of a plan and its revision.
type planState[P any] struct {
	plan P
	rev  int64
	have bool
}

// watchPlans runs one plan stream per ctx in a goroutine that ends when
// ctx is done (then it closes the channel).
func watchPlans[P, D, U any](ctx context.Context, l *AgentLink, path, kind, name string,
	apply func(*P, D), mk func(int64, P) U) <-chan U {
	out := make(chan U, 1)
	go func() {
		defer close(out)
		log := l.log.With(kind, name)
		var st planState[P]
		emit := func() bool {
			u := mk(st.rev, st.plan)
			select {
			case <-out: // replace the unread older plan
			default:
			}
			select {
			case out <- u:
				return true
			case <-ctx.Done():
				return false
			}
		}
		bo := reconcile.Backoff{Min: l.cfg.BackoffMin, Max: l.cfg.BackoffMax}
		for {
			err := streamPlans(ctx, l, path, &st, apply, emit, bo.Reset)
			if ctx.Err() != nil {
				return
			}
			d := bo.Next()
			log.Warn("plan stream lost, reconnecting", "err", err, "revision", st.rev, "retry_in", d)
			if !reconcile.Sleep(ctx, d) {
				return
			}
		}
	}()
	return out
}

// streamPlans reads one plan stream into st until it fails; emit hands
// the current plan on (false: ctx is done); connected is called once the
// server answered.
func streamPlans[P, D any](ctx context.Context, l *AgentLink, path string, st *planState[P],
	apply func(*P, D), emit func() bool, connected func()) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{}
	if st.have {
		q.Set("revision", strconv.FormatInt(st.rev, 10))
	}
	req, err := l.c.newRequest(sctx, http.MethodGet, path, q)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", agentwire.ContentTypeStream)
	resp, err := l.c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return parseError(resp)
	}
	connected()
	idle := l.cfg.IdleTimeout
	if idle <= 0 {
		if ka := agentwire.Keepalive(resp.Header.Get(agentwire.KeepaliveHeader)); ka > 0 {
			idle = 3 * ka
		} else {
			idle = 45 * time.Second
		}
	}
	var dead atomic.Bool
	timer := time.AfterFunc(idle, func() { dead.Store(true); cancel() })
	defer timer.Stop()
	dec := json.NewDecoder(&idleReader{r: resp.Body, timer: timer, idle: idle})
	for {
		var ev agentwire.Event[P, D]
		if err := dec.Decode(&ev); err != nil {
			if dead.Load() {
				return fmt.Errorf("plan stream silent for %v", idle)
			}
			if errors.Is(err, io.EOF) {
				return errors.New("plan stream closed by the server")
			}
			return fmt.Errorf("read plan stream: %w", err)
		}
		switch ev.Type {
		case agentwire.EventSnapshot:
			if ev.Plan == nil {
				return errors.New("plan stream: snapshot without a plan")
			}
			st.plan, st.rev, st.have = *ev.Plan, ev.Revision, true
		case agentwire.EventDelta:
			if !st.have || ev.Delta == nil {
				return errors.New("plan stream: delta without a plan to apply it to")
			}
			apply(&st.plan, *ev.Delta)
			st.rev = ev.Revision
		case agentwire.EventResumed:
			if !st.have {
				return errors.New("plan stream: resumed without a plan")
			}
			// The plan is current at this revision: hand it on again so
			// the agent records (and reports) the newer revision.
			st.rev = ev.Revision
		default: // keepalive, and types of newer servers
			continue
		}
		if !emit() {
			return ctx.Err()
		}
	}
}

// idleReader restarts timer at every read that returns data.
type idleReader struct {
	r     io.Reader
	timer *time.Timer
	idle  time.Duration
}

func (ir *idleReader) Read(p []byte) (int, error) {
	n, err := ir.r.Read(p)
	if n > 0 {
		ir.timer.Reset(ir.idle)
	}
	return n, err
}

// newRequest builds a request to path with the client's headers.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != nil {
		tok, err := c.token(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s %s: token: %w", method, path, err)
		}
		if tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
	}
	return req, nil
}

// ConnectionStatus returns, per switch of the connection's gateway, whether
// the switch holds the connection (GET /v2.0/l2-gateway-connections/{id}/status).
func (c *Client) ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error) {
	var st agentwire.ConnectionStatus
	if err := c.do(ctx, http.MethodGet, agentwire.ConnectionStatusPath(id), nil, nil, &st); err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	return st, nil
}
