package api

import (
	"context"
	"fmt"
	"net/http"
)

// bulkCreate describes a resource whose POST accepts one member or a bulk
// list (Neutron API, "Bulk create"): the store creates all or none.
type bulkCreate[M, N any] struct {
	member     string // member key, e.g. "port"
	collection string // collection key, e.g. "ports"
	decode     func(res map[string]any, project string) (M, error)
	create     func(ctx context.Context, ms []M) ([]M, error)
	wire       func(M) N
}

// serveCreate answers a create request for one member or a bulk list:
// decode every item first, create them in one store call, answer 201 with
// the member or the list (honouring ?fields=).
func serveCreate[M, N any](h *handler, w http.ResponseWriter, r *http.Request, c bulkCreate[M, N]) {
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	items, bulk, err := envelope(body, c.member, c.collection, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ms := make([]M, len(items))
	for i, res := range items {
		if ms[i], err = c.decode(res, callerProject(r)); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	ms, err = c.create(r.Context(), ms)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := toWire(ms, c.wire)
	if bulk {
		writeJSON(w, http.StatusCreated, map[string]any{c.collection: selectFields(out, nonEmpty(r.URL.Query()["fields"]))})
		return
	}
	if len(out) != 1 {
		h.writeError(w, r, fmt.Errorf("store created %d %s for one", len(out), c.collection))
		return
	}
	writeMember(w, r, http.StatusCreated, c.member, out[0])
}

// toWire converts store models to their Neutron wire form.
func toWire[M, N any](ms []M, wire func(M) N) []N {
	out := make([]N, len(ms))
	for i, m := range ms {
		out[i] = wire(m)
	}
	return out
}
