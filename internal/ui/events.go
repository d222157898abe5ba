package ui

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"
)

// eventWriteTimeout bounds one write to an event stream: a client that
// stops reading is dropped instead of holding its goroutine.
const eventWriteTimeout = 10 * time.Second

// event is one encoded Server-Sent Event shared by every stream; seq
// tells a stream whether it sent it already.
type event struct {
	seq  uint64
	data []byte
}

// Changed tells the snapshot producer that something the store does not
// announce (Store.Notify) may have changed: an agent's status written
// without a new revision. Many calls before the next read coalesce into
// one; it never blocks.
func (h *Handler) Changed() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Reads returns how many times the topology was read and its connections'
// status computed, for the event streams and GET /ui/api/topology together
// (also the metric l2gw_ui_topology_reads_total). With streams open it
// grows with the changes, never with the number of streams.
func (h *Handler) Reads() int64 { return h.reads.Load() }

// Run produces, until ctx is done, the one snapshot every event stream
// sends: while at least one stream is open it reads the topology when the
// store announces a commit (Notify), when Changed is called (agents'
// status writes that make no revision), and every Interval for what
// changes with time alone (an agent's presence expiring, another replica's
// status writes); never twice within MinGap, so a burst of changes costs a
// few reads, and only a snapshot that differs from the last is published.
// With no stream open it reads nothing. When Run returns, the open
// streams end (nothing would update them any more).
func (h *Handler) Run(ctx context.Context) error {
	defer h.Close()
	tick := time.NewTicker(h.cfg.Interval)
	defer tick.Stop()
	var last []byte
	for {
		if !h.watched() {
			last = nil
			select {
			case <-h.wake:
				continue
			case <-ctx.Done():
				return nil
			case <-h.stop:
				return nil
			}
		}
		// Taken before reading: a commit during the read is not missed.
		changed := h.st.Notify()
		b, err := h.snapshot(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// The viewers learn that, the log says why.
			h.log.Warn("status page snapshot", "err", err)
			last = nil
			h.publish([]byte("event: failure\ndata: the server could not read the state (see its log)\n\n"))
		case !bytes.Equal(b, last):
			last = b
			h.publish(fmt.Appendf(nil, "event: snapshot\ndata: %s\n\n", b))
		}
		gap := time.NewTimer(h.cfg.MinGap)
		select {
		case <-gap.C:
		case <-ctx.Done():
			gap.Stop()
			return nil
		case <-h.stop:
			gap.Stop()
			return nil
		}
		select {
		case <-changed:
		case <-h.wake:
		case <-tick.C:
		case <-ctx.Done():
			return nil
		case <-h.stop:
			return nil
		}
	}
}

// watched reports whether a stream is open; when none is, the last
// snapshot is dropped, so the next viewer waits for a fresh one rather
// than see a stale one.
func (h *Handler) watched() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.viewers == 0 {
		h.latest = nil
	}
	return h.viewers > 0
}

// publish makes data the event every stream sends next.
func (h *Handler) publish(data []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.latest = &event{seq: h.seq, data: data}
	close(h.next)
	h.next = make(chan struct{})
}

// current returns the latest event (nil: none yet) and a channel closed
// when it is replaced.
func (h *Handler) current() (*event, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest, h.next
}

// subscribe counts an open stream; the first wakes the producer.
func (h *Handler) subscribe() {
	h.mu.Lock()
	h.viewers++
	first := h.viewers == 1
	h.mu.Unlock()
	if first {
		h.Changed()
	}
}

func (h *Handler) unsubscribe() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.viewers--
}

// events is GET /ui/api/events: a Server-Sent Events stream (text/event-
// stream, WHATWG HTML "Server-sent events") whose "snapshot" events carry
// the whole Topology, sent when the stream opens and then whenever it
// changes. The snapshots are Run's, shared by all streams: a stream sends
// the latest one, so a slow client skips those it had no time for. Its one
// goroutine is the request's: it ends with the client, at Close or when
// Run returns.
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
	h.subscribe()
	defer h.unsubscribe()
	keep := time.NewTimer(h.cfg.Keepalive)
	defer keep.Stop()
	var sent uint64
	for {
		ev, next := h.current()
		if ev != nil && ev.seq != sent {
			sent = ev.seq
			if err := send(ev.data); err != nil {
				return
			}
			keep.Reset(h.cfg.Keepalive)
		}
		select {
		case <-next:
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
