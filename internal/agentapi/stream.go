package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/planfeed"
	"github.com/l2gw/l2gw/internal/planner"
)

func parseRevision(r *http.Request) (int64, error) {
	v := r.URL.Query().Get("revision")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, invalid("Invalid input for revision. Reason: '%s' is not a non-negative integer.", v)
	}
	return n, nil
}

func (h *Handler) switchPlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	h.agents.open(name)
	defer func() {
		if err := h.agents.close(r.Context(), h.st, name); err != nil {
			h.log.Error("mark switch disconnected", "switch", name, "err", err)
		}
	}()
	serveStream(h, w, r, "switch", func(ctx context.Context, name string, from int64) (*planfeed.Watch[planner.SwitchPlan, planner.SwitchDelta], int64, error) {
		return h.feed.WatchSwitchFrom(ctx, name, from)
	})
}

func (h *Handler) hostPlan(w http.ResponseWriter, r *http.Request) {
	serveStream(h, w, r, "host", func(ctx context.Context, name string, from int64) (*planfeed.Watch[planner.HostPlan, planner.HostDelta], int64, error) {
		return h.feed.WatchHostFrom(ctx, name, from)
	})
}

// streamWriter writes the lines of one plan stream.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *streamWriter) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b = append(b, '\n')
	// A client that stops reading must not hold the stream (and its watch)
	// forever; servers without deadlines report ErrNotSupported, ignored.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// serveStream answers a plan stream (agentwire's package doc): headers at
// once, keepalives while the feed has no snapshot yet, then a snapshot or
// a resumed line, then deltas (and snapshots when the feed resets the
// watch), with keepalives in every silence.
func serveStream[P, D any](h *Handler, w http.ResponseWriter, r *http.Request, kind string,
	open func(ctx context.Context, name string, from int64) (*planfeed.Watch[P, D], int64, error)) {
	ctx := r.Context()
	name := r.PathValue("name")
	from, err := parseRevision(r)
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	if h.feed == nil {
		writeUnavailable(w)
		return
	}
	ka := h.cfg.Keepalive
	w.Header().Set("Content-Type", agentwire.ContentTypeStream)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer
	w.Header().Set(agentwire.KeepaliveHeader, ka.String())
	w.WriteHeader(http.StatusOK)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: 2 * ka}
	if err := sw.rc.Flush(); err != nil {
		return
	}
	log := h.log.With(kind, name)
	keepalive := agentwire.Event[P, D]{Type: agentwire.EventKeepalive}

	// Wait for the feed's first snapshot, keeping the connection alive.
	for {
		wctx, cancel := context.WithTimeout(ctx, ka)
		err := h.feed.WaitRevision(wctx, 0)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if sw.write(keepalive) != nil {
			return
		}
	}
	wt, resumed, err := open(ctx, name, from)
	if err != nil {
		log.Debug("plan stream not opened", "err", err)
		return
	}
	defer wt.Stop()
	streams := h.m.streams.WithLabelValues(kind)
	streams.Inc()
	defer streams.Dec()
	log.Debug("plan stream opened", "from", from, "resumed", resumed)
	if resumed > 0 {
		if err := sw.write(agentwire.Event[P, D]{Type: agentwire.EventResumed, Revision: resumed}); err != nil {
			return
		}
	}
	for {
		nctx, cancel := context.WithTimeout(ctx, ka)
		ev, err := wt.Next(nctx)
		cancel()
		var out agentwire.Event[P, D]
		switch {
		case err == nil && ev.Plan != nil:
			out = agentwire.Event[P, D]{Type: agentwire.EventSnapshot, Revision: ev.Revision, Plan: ev.Plan}
		case err == nil:
			d := ev.Delta
			out = agentwire.Event[P, D]{Type: agentwire.EventDelta, Revision: ev.Revision, Delta: &d}
		case ctx.Err() != nil:
			log.Debug("plan stream closed by the client")
			return
		case errors.Is(err, context.DeadlineExceeded):
			out = keepalive
		default: // the feed stopped: the client reconnects (to this server restarted, or another)
			log.Debug("plan stream ended", "err", err)
			return
		}
		if err := sw.write(out); err != nil {
			log.Debug("plan stream write failed", "err", err)
			return
		}
	}
}

func writeUnavailable(w http.ResponseWriter) {
	api.WriteErrorBody(w, http.StatusServiceUnavailable, neutron.Error{Type: "HTTPServiceUnavailable", Message: "Plans are not served by this server."})
}
