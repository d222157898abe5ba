package agentapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// connectionStatus answers whether each switch of the connection's gateway
// holds the connection.
//
// A connection needs, on switch S, the plan as of its last change: the
// later of the connection's and its gateway's last create/update (R). A
// change that did not alter S's plan (a gateway rename) cannot be awaited
// on S, so the revision required is min(R, the revision S's plan last
// changed at). S is in_sync when its agent applied at least that revision
// and reports no error; error when the agent reports one; pending
// otherwise. Revisions come from the plan feed, which dates what changed
// before it started at its first snapshot (conservative: a freshly started
// server shows pending until the agents have applied its plans).
func (h *Handler) connectionStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := h.ConnectionStatus(ctx, r.PathValue("id"))
	if err != nil {
		api.WriteError(w, r, h.log, err)
		return
	}
	b, err := json.Marshal(st)
	if err != nil {
		api.WriteError(w, r, h.log, fmt.Errorf("encode status: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// ConnectionStatus computes the per-switch status of a connection (see the
// handler of GET /v2.0/l2-gateway-connections/{id}/status).
func (h *Handler) ConnectionStatus(ctx context.Context, id string) (agentwire.ConnectionStatus, error) {
	conn, err := h.st.GetConnection(ctx, id)
	if err != nil {
		return agentwire.ConnectionStatus{}, err
	}
	gw, err := h.st.GetGateway(ctx, conn.GatewayID)
	if err != nil {
		return agentwire.ConnectionStatus{}, fmt.Errorf("gateway %s of connection %s: %w", conn.GatewayID, id, err)
	}
	// The feed must have seen the connection for its revision to be known.
	caughtUp := false
	if h.feed != nil {
		rev, err := h.st.Revision(ctx)
		if err != nil {
			return agentwire.ConnectionStatus{}, err
		}
		wctx, cancel := context.WithTimeout(ctx, h.cfg.StatusWait)
		err = h.feed.WaitRevision(wctx, rev)
		cancel()
		if ctx.Err() != nil {
			return agentwire.ConnectionStatus{}, ctx.Err()
		}
		caughtUp = err == nil
	}
	var need int64
	if caughtUp {
		c, _ := h.feed.ObjectChangedAt(store.KindConnection, conn.ID)
		g, _ := h.feed.ObjectChangedAt(store.KindGateway, gw.ID)
		need = max(c, g)
	}
	out := agentwire.ConnectionStatus{Status: []agentwire.SwitchSync{}}
	seen := map[string]bool{}
	for _, d := range gw.Devices {
		if seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		s := agentwire.SwitchSync{Switch: d.Name}
		sw, err := h.st.GetSwitch(ctx, d.Name)
		switch {
		case errors.Is(err, model.ErrNotFound):
			s.State, s.Reason = agentwire.StatePending, "no agent has reported this switch"
			out.Status = append(out.Status, s)
			continue
		case err != nil:
			return agentwire.ConnectionStatus{}, fmt.Errorf("switch %s: %w", d.Name, err)
		}
		s.AppliedRevision, s.Connected, s.LastSync = sw.SyncRevision, sw.Connected, neutron.Time{Time: sw.LastSync}
		if caughtUp {
			planAt, _ := h.feed.SwitchChangedAt(d.Name)
			s.Revision = min(need, planAt)
		}
		switch {
		case sw.SyncError != "":
			s.State, s.Reason = agentwire.StateError, sw.SyncError
		case !caughtUp:
			s.State, s.Reason = agentwire.StatePending, "the plans are being computed"
		case !sw.Connected:
			s.State, s.Reason = agentwire.StatePending, "the switch agent is not connected to the switch"
		case sw.SyncRevision >= s.Revision:
			s.State = agentwire.StateInSync
		default:
			s.State, s.Reason = agentwire.StatePending, fmt.Sprintf("the switch agent has applied revision %d, the connection needs %d", sw.SyncRevision, s.Revision)
		}
		out.Status = append(out.Status, s)
	}
	return out, nil
}
