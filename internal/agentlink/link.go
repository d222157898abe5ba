// Package agentlink is an agent's link to the server over the agent
// protocol (internal/agentwire): the switch and host plan sources
// (planstream.Source over HTTP plan streams), switch reports and status,
// and host registration and status. It is what `l2gw switch-agent` and `l2gw
// host-agent` use; agents inside the server use the plan feed and the
// store directly. It speaks HTTP through the northbound client's transport
// (its URL, credentials and TLS) but is a separate, agent-facing API.
package agentlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
)

// Config tunes a Link; zero values take the documented defaults.
type Config struct {
	// IdleTimeout is how long a plan stream may stay silent before it is
	// taken as dead. Zero: three times the keepalive interval the server
	// announces, or 45s when it announces none.
	IdleTimeout time.Duration
	// RequestTimeout bounds reports, status updates and registrations.
	// Default 30s.
	RequestTimeout time.Duration
}

// Link is an agent's link to the server, or to several server replicas
// (the client's comma-separated URLs): a connection failure, a 5xx answer
// or a broken plan stream moves it to the next, and planstream.Follow
// resumes the plan stream there by revision. It holds no state between calls:
// an agent re-sends what the server may have lost (its status, after its
// plan stream reopens) itself.
type Link struct {
	c   *client.Client
	cfg Config
	// feeds holds, per plan path, the feed (agentwire.FeedHeader) of the
	// stream the last event came on: a resume names it.
	feeds sync.Map
}

// New returns the link through c. c's HTTP client must not time out whole
// requests (plan streams last as long as the agent), as
// http.DefaultClient does not.
func New(c *client.Client, cfg Config) *Link {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	return &Link{c: c, cfg: cfg}
}

// ReportSwitch sends a switch report (the switch agent's Reporter).
func (l *Link) ReportSwitch(ctx context.Context, r model.SwitchReport) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.Do(ctx, http.MethodPost, agentwire.SwitchReportPath(r.Switch.Name), nil, agentwire.FromSwitchReport(r), nil)
}

// SetSwitchStatus sends a switch agent's status (the switch agent's Reporter).
func (l *Link) SetSwitchStatus(ctx context.Context, s model.SwitchStatus) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.Do(ctx, http.MethodPut, agentwire.SwitchStatusPath(s.Name), nil, agentwire.FromSwitchStatus(s), nil)
}

// RegisterHost registers a host and its VTEP IP (the host agent's
// Registrar). The server records its own time as the heartbeat; at is not
// sent. A refusal (409: the host is recorded with another VTEP IP) is a
// *model.Fault of kind model.ErrConflict carrying the server's message, as
// the store's own RegisterHost returns it.
func (l *Link) RegisterHost(ctx context.Context, name, vtepIP string, _ time.Time) (model.Host, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	var resp agentwire.HostResponse
	if err := l.c.Do(ctx, http.MethodPost, agentwire.HostRegisterPath(name), nil, agentwire.HostRegistration{VTEPIP: vtepIP}, &resp); err != nil {
		var e *client.Error
		if errors.As(err, &e) && e.Status == http.StatusConflict {
			return model.Host{}, &model.Fault{Kind: model.ErrConflict, Type: e.Type, Message: e.Message}
		}
		return model.Host{}, err
	}
	return agentwire.ToModel(resp.Host), nil
}

// SetHostStatus sends a host agent's status (the host agent's Registrar).
func (l *Link) SetHostStatus(ctx context.Context, s model.HostStatus) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.Do(ctx, http.MethodPut, agentwire.HostStatusPath(s.Name), nil, agentwire.FromHostStatus(s), nil)
}

// Switches returns the source of switch plans.
func (l *Link) Switches() planstream.SwitchSource {
	return source[planner.SwitchPlan, planner.SwitchDelta]{l: l, path: agentwire.SwitchPlanPath}
}

// Hosts returns the source of host plans.
func (l *Link) Hosts() planstream.HostSource {
	return source[planner.HostPlan, planner.HostDelta]{l: l, path: agentwire.HostPlanPath}
}

type source[P, D any] struct {
	l    *Link
	path func(name string) string
}

// Watch opens one plan stream (GET .../plan?revision=from). It ends at the
// first failure; planstream.Follow opens the next.
func (s source[P, D]) Watch(ctx context.Context, name string, from int64) (planstream.Stream[P, D], error) {
	sctx, cancel := context.WithCancel(ctx)
	path := s.path(name)
	q := url.Values{}
	if from > 0 {
		q.Set("revision", strconv.FormatInt(from, 10))
		if feed, ok := s.l.feeds.Load(path); ok && feed != "" {
			q.Set(agentwire.FeedParam, feed.(string))
		}
	}
	resp, err := s.l.c.Open(sctx, path, q, agentwire.ContentTypeStream)
	if err != nil {
		cancel()
		return nil, err
	}
	idle := s.l.cfg.IdleTimeout
	if idle <= 0 {
		if ka := agentwire.Keepalive(resp.Header.Get(agentwire.KeepaliveHeader)); ka > 0 {
			idle = 3 * ka
		} else {
			idle = 45 * time.Second
		}
	}
	st := &stream[P, D]{body: resp.Body, cancel: cancel, idle: idle, failed: s.l.c.Failed,
		received: func() { s.l.feeds.Store(path, resp.Header.Get(agentwire.FeedHeader)) }}
	st.timer = time.AfterFunc(idle, func() { st.dead.Store(true); cancel() })
	st.dec = json.NewDecoder(&idleReader{r: resp.Body, timer: st.timer, idle: idle})
	return st, nil
}

// stream reads one HTTP plan stream. Between calls of Next (while the
// agent applies an event) the idle timer is stopped: the stream is not
// silent, the agent is busy.
type stream[P, D any] struct {
	body   io.ReadCloser
	dec    *json.Decoder
	cancel context.CancelFunc
	timer  *time.Timer
	idle   time.Duration
	dead   atomic.Bool
	// failed moves the link to its next server (with several): a stream
	// that broke or went silent says the server it came from is in trouble.
	failed func()
	// received records the stream's feed as the one of the last event.
	received func()
}

func (s *stream[P, D]) Next(ctx context.Context) (planner.Event[P, D], error) {
	s.timer.Reset(s.idle)
	defer s.timer.Stop()
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	for {
		var ev planner.Event[P, D]
		if err := s.dec.Decode(&ev); err != nil {
			if ctx.Err() == nil {
				s.failed()
			}
			switch {
			case ctx.Err() != nil:
				return ev, ctx.Err()
			case s.dead.Load():
				return ev, fmt.Errorf("plan stream silent for %v", s.idle)
			case errors.Is(err, io.EOF):
				return ev, errors.New("plan stream closed by the server")
			}
			return ev, fmt.Errorf("read plan stream: %w", err)
		}
		if ev.Type != agentwire.EventKeepalive {
			s.received()
			return ev, nil
		}
	}
}

func (s *stream[P, D]) Close() {
	s.timer.Stop()
	s.cancel()
	s.body.Close()
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

// AcquireLease acquires (epoch 0) or renews (epoch set) the lease of a
// switch or host (kind "switch" or "host") for the agent instance,
// asking for duration; it returns the epoch held and how long the server
// grants it. A refusal (409: another agent holds it, or took it over) is
// a *model.Fault of kind model.ErrConflict with the server's message,
// which names the holder.
func (l *Link) AcquireLease(ctx context.Context, kind, name, agent, instance string, epoch int64, duration time.Duration) (agentwire.Lease, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	var resp agentwire.LeaseResponse
	req := agentwire.LeaseRequest{Agent: agent, Instance: instance, Epoch: epoch, DurationMS: max(1, duration.Milliseconds())}
	if err := l.c.Do(ctx, http.MethodPost, leasePath(kind, name), nil, req, &resp); err != nil {
		var e *client.Error
		if errors.As(err, &e) && e.Status == http.StatusConflict {
			return agentwire.Lease{}, &model.Fault{Kind: model.ErrConflict, Type: e.Type, Message: e.Message}
		}
		return agentwire.Lease{}, err
	}
	return resp.Lease, nil
}

// ReleaseLease gives up the instance's lease of epoch.
func (l *Link) ReleaseLease(ctx context.Context, kind, name, agent, instance string, epoch int64) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.RequestTimeout)
	defer cancel()
	return l.c.Do(ctx, http.MethodDelete, leasePath(kind, name), agentwire.LeaseReleaseQuery(agent, instance, epoch), nil, nil)
}

func leasePath(kind, name string) string {
	if kind == "host" {
		return agentwire.HostLeasePath(name)
	}
	return agentwire.SwitchLeasePath(name)
}
