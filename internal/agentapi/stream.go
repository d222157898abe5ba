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
	if _, ok := h.gate.open(); !ok {
		writeDatabaseUnreachable(w)
		return
	}
	h.agents.open(name)
	defer func() {
		_, reachable := h.gate.open()
		// The stream ended because its agent or the server went away: the
		// request's context is done, and the mark is written anyway (each
		// write bounded), so wait for its real outcome.
		if err := h.agents.close(context.WithoutCancel(r.Context()), name, reachable); err != nil {
			h.log.ErrorContext(r.Context(), "mark switch disconnected", "switch", name, "err", err)
		}
	}()
	if h.feed == nil {
		writeUnavailable(w)
		return
	}
	serveStream(h, w, r, "switch", h.feed.Switches())
}

func (h *Handler) hostPlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := h.gate.open(); !ok {
		writeDatabaseUnreachable(w)
		return
	}
	h.hostAgents.open(name)
	defer func() {
		_, reachable := h.gate.open()
		if err := h.hostAgents.close(context.WithoutCancel(r.Context()), name, reachable); err != nil {
			h.log.ErrorContext(r.Context(), "mark host agent gone", "host", name, "err", err)
		}
	}()
	if h.feed == nil {
		writeUnavailable(w)
		return
	}
	serveStream(h, w, r, "host", h.feed.Hosts())
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
// once, then the watch's events (a snapshot or a resumed line first, then
// deltas, and snapshots when the feed resets the watch), with keepalives in
// every silence, the wait for the feed's first snapshot included. It ends
// when the database becomes unreachable (dbgate.go).
func serveStream[P, D any](h *Handler, w http.ResponseWriter, r *http.Request, kind string, src planfeed.Plans[P, D]) {
	ctx := r.Context()
	name := r.PathValue("name")
	from, err := parseRevision(r)
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	log := h.log.With(kind, name)
	if feed := r.URL.Query().Get(agentwire.FeedParam); from > 0 && feed != src.FeedID() {
		// A plan another feed computed (see agentwire's Resume).
		log.DebugContext(ctx, "plan of another feed: sending a snapshot", "from", from, "feed", feed)
		from = 0
	}
	gate, ok := h.gate.open()
	if !ok {
		writeDatabaseUnreachable(w)
		return
	}
	// The events are waited for on sctx, which also ends with the gate.
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	defer context.AfterFunc(gate, scancel)()
	wt, err := src.Watch(ctx, name, from)
	if err != nil {
		log.DebugContext(ctx, "plan stream not opened", "err", err)
		writeUnavailable(w)
		return
	}
	defer wt.Close()
	ka := h.cfg.Keepalive
	w.Header().Set("Content-Type", agentwire.ContentTypeStream)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer
	w.Header().Set(agentwire.KeepaliveHeader, ka.String())
	w.Header().Set(agentwire.FeedHeader, src.FeedID())
	w.WriteHeader(http.StatusOK)
	sw := &streamWriter{w: w, rc: http.NewResponseController(w), timeout: 2 * ka}
	if err := sw.rc.Flush(); err != nil {
		return
	}
	streams := h.m.streams.WithLabelValues(kind)
	streams.Inc()
	defer streams.Dec()
	log.DebugContext(ctx, "plan stream opened", "from", from)
	keepalive := planner.Event[P, D]{Type: agentwire.EventKeepalive}
	for {
		nctx, cancel := context.WithTimeout(sctx, ka)
		ev, err := wt.Next(nctx)
		cancel()
		switch {
		case err == nil:
		case gate.Err() != nil && ctx.Err() == nil:
			// The agent reads the end and moves to the next server.
			log.InfoContext(ctx, "plan stream ended: the database is unreachable")
			return
		case ctx.Err() != nil:
			log.DebugContext(ctx, "plan stream closed by the client")
			return
		case errors.Is(err, context.DeadlineExceeded):
			ev = keepalive
		default: // the feed stopped: the client reconnects (to this server restarted, or another)
			log.DebugContext(ctx, "plan stream ended", "err", err)
			return
		}
		if err := sw.write(ev); err != nil {
			log.DebugContext(ctx, "plan stream write failed", "err", err)
			return
		}
	}
}

func writeUnavailable(w http.ResponseWriter) {
	api.WriteErrorBody(w, http.StatusServiceUnavailable, neutron.Error{Type: "HTTPServiceUnavailable", Message: "Plans are not served by this server."})
}
