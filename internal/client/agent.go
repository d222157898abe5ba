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
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/reconcile"
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
// (internal/agentwire): it implements switchagent.DeltaPlans and
// switchagent.Reporter, and hostagent.Plans and hostagent.Registrar.
type AgentLink struct {
	c   *Client
	cfg AgentConfig
	log *slog.Logger

	// statusMu orders status updates and holds the last one per switch, sent
	// again when the switch's plan stream reconnects: the server marks a
	// switch disconnected when its last stream ends.
	statusMu sync.Mutex
	status   map[string]model.SwitchStatus
}

var (
	_ switchagent.DeltaPlans = (*AgentLink)(nil)
	_ switchagent.Reporter   = (*AgentLink)(nil)
	_ hostagent.Plans        = (*AgentLink)(nil)
	_ hostagent.Registrar    = (*AgentLink)(nil)
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
func (l *AgentLink) ReportSwitch(ctx context.Context, r model.SwitchReport) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.do(ctx, http.MethodPost, agentwire.SwitchReportPath(r.Switch.Name), nil, agentwire.FromSwitchReport(r), nil)
}

// SetSwitchStatus implements switchagent.Reporter.
func (l *AgentLink) SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error {
	l.statusMu.Lock()
	defer l.statusMu.Unlock()
	if l.status == nil {
		l.status = make(map[string]model.SwitchStatus)
	}
	l.status[s.Name] = s
	return l.putStatus(ctx, s)
}

func (l *AgentLink) putStatus(ctx context.Context, s model.SwitchStatus) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.do(ctx, http.MethodPut, agentwire.SwitchStatusPath(s.Name), nil, agentwire.FromSwitchStatus(s), nil)
}

// resendStatus sends the switch's last status again, if there is one.
func (l *AgentLink) resendStatus(ctx context.Context, name string) {
	l.statusMu.Lock()
	defer l.statusMu.Unlock()
	s, ok := l.status[name]
	if !ok {
		return
	}
	if err := l.putStatus(ctx, s); err != nil {
		l.log.Warn("resend switch status", "switch", name, "err", err)
	}
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
	return watchPlans(ctx, l, agentwire.SwitchPlanPath(name), streamSwitch, name,
		func(p *planner.SwitchPlan, d planner.SwitchDelta) { p.Apply(d) },
		func(rev int64, p planner.SwitchPlan) switchagent.PlanUpdate {
			return switchagent.PlanUpdate{Revision: rev, Plan: p.Clone()}
		}), nil
}

// WatchSwitchDeltas implements switchagent.DeltaPlans: the stream's events
// as they come, in order and none dropped (the send waits for the agent):
// a snapshot as a whole plan (decoded for the agent alone), a delta as a
// delta, and a resumed stream (after a reconnect) as an empty delta at the
// newer revision, so the agent keeps its plan. The stream is reopened as
// WatchSwitch's is; the channel is closed only when ctx is done.
func (l *AgentLink) WatchSwitchDeltas(ctx context.Context, name string) (<-chan switchagent.PlanEvent, error) {
	out := make(chan switchagent.PlanEvent, 16)
	go func() {
		defer close(out)
		runStreams(ctx, l, agentwire.SwitchPlanPath(name), streamSwitch, name,
			func(ev agentwire.Event[planner.SwitchPlan, planner.SwitchDelta]) bool {
				pe := switchagent.PlanEvent{Revision: ev.Revision}
				switch ev.Type {
				case agentwire.EventSnapshot:
					pe.Plan = ev.Plan
				case agentwire.EventDelta:
					pe.Delta = *ev.Delta
				}
				select {
				case out <- pe:
					return true
				case <-ctx.Done():
					return false
				}
			})
	}()
	return out, nil
}

// WatchHost implements hostagent.Plans, as WatchSwitch does for switches.
func (l *AgentLink) WatchHost(ctx context.Context, name string) (<-chan hostagent.PlanUpdate, error) {
	return watchPlans(ctx, l, agentwire.HostPlanPath(name), streamHost, name,
		func(p *planner.HostPlan, d planner.HostDelta) { p.Apply(d) },
		func(rev int64, p planner.HostPlan) hostagent.PlanUpdate {
			return hostagent.PlanUpdate{Revision: rev, Plan: p.Clone()}
		}), nil
}

// The kinds of plan stream, also the log key naming the switch or host.
const (
	streamSwitch = "switch"
	streamHost   = "host"
)

// watchPlans runs one plan stream per ctx in a goroutine that ends when
// ctx is done (then it closes the channel); it folds the events into a
// plan of its own and sends a copy of it per event, replacing an unread
// older one.
func watchPlans[P, D, U any](ctx context.Context, l *AgentLink, path, kind, name string,
	apply func(*P, D), mk func(int64, P) U) <-chan U {
	out := make(chan U, 1)
	go func() {
		defer close(out)
		var plan P
		runStreams(ctx, l, path, kind, name, func(ev agentwire.Event[P, D]) bool {
			switch ev.Type {
			case agentwire.EventSnapshot:
				plan = *ev.Plan
			case agentwire.EventDelta:
				apply(&plan, *ev.Delta)
			}
			// A resumed stream hands on the same plan again so the agent
			// records (and reports) the newer revision.
			u := mk(ev.Revision, plan)
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
		})
	}()
	return out
}

// runStreams reads plan streams until ctx is done, reopening each after a
// failure with capped backoff and resuming from the last revision handed
// to emit. emit gets every snapshot, delta and resumed event, checked:
// a snapshot has a plan, and a delta or resumed event comes only after a
// snapshot (of this stream or an earlier one); it returns false when ctx
// is done.
func runStreams[P, D any](ctx context.Context, l *AgentLink, path, kind, name string, emit func(agentwire.Event[P, D]) bool) {
	log := l.log.With(kind, name)
	var cur cursor
	bo := reconcile.Backoff{Min: l.cfg.BackoffMin, Max: l.cfg.BackoffMax}
	connected := bo.Reset
	if kind == streamSwitch {
		// The server marked the switch disconnected when the previous
		// stream ended; the agent's last status puts it right.
		connected = func() { bo.Reset(); l.resendStatus(ctx, name) }
	}
	for {
		err := streamPlans(ctx, l, path, &cur, emit, connected)
		if ctx.Err() != nil {
			return
		}
		d := bo.Next()
		log.Warn("plan stream lost, reconnecting", "err", err, "revision", cur.rev, "retry_in", d)
		if !reconcile.Sleep(ctx, d) {
			return
		}
	}
}

// cursor is how far a watcher's plan streams got: the revision of the last
// event handed on, and whether a snapshot was (so a stream can resume).
type cursor struct {
	rev  int64
	have bool
}

// streamPlans reads one plan stream, handing its events to emit, until it
// fails or emit returns false; connected is called once the server
// answered.
func streamPlans[P, D any](ctx context.Context, l *AgentLink, path string, cur *cursor,
	emit func(agentwire.Event[P, D]) bool, connected func()) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{}
	if cur.have {
		q.Set("revision", strconv.FormatInt(cur.rev, 10))
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
		case agentwire.EventDelta:
			if !cur.have || ev.Delta == nil {
				return errors.New("plan stream: delta without a plan to apply it to")
			}
		case agentwire.EventResumed:
			if !cur.have {
				return errors.New("plan stream: resumed without a plan")
			}
		default: // keepalive, and types of newer servers
			continue
		}
		// The idle timer must not fire while emit waits for the agent: the
		// stream is not silent, the agent is busy.
		timer.Stop()
		ok := emit(ev)
		timer.Reset(idle)
		if !ok {
			return ctx.Err()
		}
		cur.rev, cur.have = ev.Revision, true
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
