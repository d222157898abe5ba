package ui

import (
	"bytes"
	"fmt"
	"net/http"
	"time"
)

// eventWriteTimeout bounds one write to an event stream: a client that
// stops reading is dropped instead of holding its goroutine.
const eventWriteTimeout = 10 * time.Second

// events is GET /ui/api/events: a Server-Sent Events stream (text/event-
// stream, WHATWG HTML "Server-sent events") whose "snapshot" events carry
// the whole Topology, sent at once and then whenever it changes. The
// stream re-reads the state when the store announces a commit (Notify)
// and, for what is recorded without one (agents' sync progress, host
// status), every Interval; never twice within MinGap, and only sends what
// differs from the last snapshot. Its one goroutine is the request's: it
// ends with the client or at Close.
func (h *Handler) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	send := func(p []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		if _, err := w.Write(p); err != nil {
			return err
		}
		return rc.Flush()
	}
	// A reconnecting EventSource waits this long (ms) first.
	if err := send([]byte("retry: 1000\n\n")); err != nil {
		return
	}
	tick := time.NewTicker(h.cfg.Interval)
	defer tick.Stop()
	keep := time.NewTimer(h.cfg.Keepalive)
	defer keep.Stop()
	var last []byte
	for {
		// Taken before reading: a commit during the read is not missed.
		changed := h.st.Notify()
		b, err := h.snapshot(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// The client learns that, the log says why.
			h.log.Warn("status page snapshot", "err", err)
			if err := send([]byte("event: failure\ndata: the server could not read the state (see its log)\n\n")); err != nil {
				return
			}
			keep.Reset(h.cfg.Keepalive)
		case !bytes.Equal(b, last):
			last = b
			if err := send(fmt.Appendf(nil, "event: snapshot\ndata: %s\n\n", b)); err != nil {
				return
			}
			keep.Reset(h.cfg.Keepalive)
		}
		gap := time.NewTimer(h.cfg.MinGap)
		select {
		case <-gap.C:
		case <-ctx.Done():
			gap.Stop()
			return
		case <-h.stop:
			gap.Stop()
			return
		}
	wait:
		for {
			select {
			case <-changed:
				break wait
			case <-tick.C:
				break wait
			case <-keep.C:
				if err := send([]byte(": keepalive\n\n")); err != nil {
					return
				}
				keep.Reset(h.cfg.Keepalive)
			case <-ctx.Done():
				return
			case <-h.stop:
				return
			}
		}
	}
}
