package agentapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// MaxLeaseDuration bounds the lease an agent may ask for: a holder that
// dies leaves its switch unprogrammed for at most this long plus a
// standby's retry interval, whatever its --lease-period says.
const MaxLeaseDuration = 10 * time.Second

// LeaseStore is what the lease endpoints need of the store (store.Store
// implements it).
type LeaseStore interface {
	AcquireLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, ttl time.Duration) (store.Lease, error)
	RenewLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64, ttl time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, kind store.LeaseKind, name, agent, instance string, epoch int64) error
}

// mountLeases registers the switch and host lease endpoints: POST
// acquires or renews, DELETE releases (handle allows one method a path).
func (h *Handler) mountLeases() {
	p := agentwire.Prefix
	for kind, path := range map[store.LeaseKind]string{store.LeaseSwitch: p + "/switches/{name}/lease", store.LeaseHost: p + "/hosts/{name}/lease"} {
		for method, fn := range map[string]http.HandlerFunc{
			http.MethodPost:   h.takeLease(kind),
			http.MethodDelete: h.releaseLease(kind),
		} {
			action := "acquire_" + string(kind) + "_lease"
			if method == http.MethodDelete {
				action = "release_" + string(kind) + "_lease"
			}
			h.mux.HandleFunc(method+" "+path, h.count(path, h.authorized(action, fn)))
		}
		h.mux.HandleFunc(path, h.count(path, api.MethodNotAllowed(http.MethodDelete, http.MethodPost)))
	}
}

func (h *Handler) leaseStore() (LeaseStore, error) {
	ls, ok := h.st.(LeaseStore)
	if !ok {
		return nil, model.NewFault(model.ErrInvalid, "HTTPBadRequest", "This server's store keeps no leases.")
	}
	return ls, nil
}

// takeLease acquires (epoch 0) or renews a lease: 200 with the lease, 409
// naming the agent that holds it.
func (h *Handler) takeLease(kind store.LeaseKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req agentwire.LeaseRequest
		if err := h.decode(w, r, &req); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		name := r.PathValue("name")
		if err := checkName(string(kind)+" name", name); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		if err := checkLeaseRequest(req); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		ls, err := h.leaseStore()
		if err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		d := min(max(time.Duration(req.DurationMS)*time.Millisecond, store.MinLeaseTTL), MaxLeaseDuration)
		var l store.Lease
		if req.Epoch == 0 {
			l, err = ls.AcquireLease(r.Context(), kind, name, req.Agent, req.Instance, d)
		} else {
			l, err = ls.RenewLease(r.Context(), kind, name, req.Agent, req.Instance, req.Epoch, d)
		}
		if err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		if req.Epoch == 0 && l.RenewedAt.Equal(l.AcquiredAt) {
			h.log.InfoContext(r.Context(), "lease taken", "kind", kind, "name", name, "agent", req.Agent, "epoch", l.Epoch)
		}
		b, err := json.Marshal(agentwire.LeaseResponse{Lease: agentwire.Lease{
			Name: name, Agent: l.Agent, Epoch: l.Epoch,
			ExpiresInMS: max(0, time.Until(l.Expires).Milliseconds()), DurationMS: d.Milliseconds(),
		}})
		if err != nil {
			api.WriteError(w, r, h.log, fmt.Errorf("encode lease: %w", err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}
}

func (h *Handler) releaseLease(kind store.LeaseKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		epoch, err := strconv.ParseInt(q.Get("epoch"), 10, 64)
		if err != nil || epoch <= 0 {
			api.WriteError(w, r, h.log, invalid("Invalid input for epoch. Reason: %q is not a positive integer.", q.Get("epoch")))
			return
		}
		req := agentwire.LeaseRequest{Agent: q.Get("agent"), Instance: q.Get("instance"), Epoch: epoch, DurationMS: 1}
		if err := checkLeaseRequest(req); err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		ls, err := h.leaseStore()
		if err == nil {
			err = ls.ReleaseLease(r.Context(), kind, r.PathValue("name"), req.Agent, req.Instance, epoch)
		}
		if err != nil {
			api.WriteError(w, r, h.log, err)
			return
		}
		h.log.InfoContext(r.Context(), "lease released", "kind", kind, "name", r.PathValue("name"), "agent", req.Agent, "epoch", epoch)
		w.WriteHeader(http.StatusNoContent)
	}
}

func checkLeaseRequest(req agentwire.LeaseRequest) error {
	switch {
	case req.Agent == "" || len(req.Agent) > 255:
		return invalid("Invalid input for agent. Reason: an agent name of 1 to 255 bytes is required.")
	case req.Instance == "" || len(req.Instance) > 255:
		return invalid("Invalid input for instance. Reason: an instance id of 1 to 255 bytes is required.")
	case req.Epoch < 0:
		return invalid("Invalid input for epoch. Reason: %d is negative.", req.Epoch)
	case req.DurationMS <= 0:
		return invalid("Invalid input for duration_ms. Reason: %d is not positive.", req.DurationMS)
	}
	return nil
}

// switchHolders returns each switch's lease, the agent empty when the
// lease is not held now; nothing when the store keeps no leases or fails
// (the status shows the rest).
func (h *Handler) switchHolders(ctx context.Context, now time.Time) map[string]store.Lease {
	ll, ok := h.st.(interface {
		ListLeases(ctx context.Context, kind store.LeaseKind, q store.Query) ([]store.Lease, error)
	})
	if !ok {
		return nil
	}
	leases, err := ll.ListLeases(ctx, store.LeaseSwitch, store.Query{})
	if err != nil {
		h.log.WarnContext(ctx, "switch leases not read", "err", err)
		return nil
	}
	out := make(map[string]store.Lease, len(leases))
	for _, l := range leases {
		if !l.Live(now) {
			l.Agent = ""
		}
		out[l.Name] = l
	}
	return out
}
