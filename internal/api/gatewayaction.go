package api

import (
	"context"
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
)

// Member actions of a gateway, in the style of Neutron's
// PUT /v2.0/routers/{id}/add_router_interface: the server edits the
// interface lists in one transaction, so that concurrent edits by several
// clients all land (a client-side read-modify-write of the whole list
// loses one of two concurrent edits).
const (
	actionAddInterfaces    = "add_interfaces"
	actionRemoveInterfaces = "remove_interfaces"
)

// gatewayActionSpec is the body of a member action: devices only.
var gatewayActionSpec = []attr{{name: "devices", post: true, put: true, required: true}}

// editFunc is Store.AddGatewayInterfaces or RemoveGatewayInterfaces.
type editFunc func(ctx context.Context, id string, devs []model.DeviceUpdate, ifRevision *int64) (model.Gateway, error)

// gatewayActions routes the member actions, behind the policy of
// update_l2_gateway: whoever may rewrite the interface lists may edit them.
func (h *handler) gatewayActions() {
	edit := func(add bool, do editFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { h.editGateway(w, r, add, do) }
	}
	action := "update_" + neutron.Gateways.Member
	h.route(neutron.Gateways.Path+"/{id}/"+actionAddInterfaces,
		endpoint{method: http.MethodPut, fn: edit(true, h.st.AddGatewayInterfaces), action: action})
	h.route(neutron.Gateways.Path+"/{id}/"+actionRemoveInterfaces,
		endpoint{method: http.MethodPut, fn: edit(false, h.st.RemoveGatewayInterfaces), action: action})
}

// decodeGatewayAction validates the body of a member action,
// {"l2_gateway": {"devices": [...]}}, as create and update validate devices.
//
// VLAN consistency within a device is checked for an add only: a remove's
// VLANs, when given, are compared with the stored ones, never stored.
func decodeGatewayAction(body any, add bool) ([]model.DeviceUpdate, error) {
	items, _, err := envelope(body, neutron.KeyGateway, neutron.KeyGateways, false)
	if err != nil {
		return nil, err
	}
	res := items[0]
	if err := checkAttrs(res, gatewayActionSpec, true); err != nil {
		return nil, err
	}
	devs, err := parseDevices(res["devices"])
	if err != nil {
		return nil, err
	}
	if add {
		if err := checkConsistent(devs); err != nil {
			return nil, err
		}
	}
	out := make([]model.DeviceUpdate, len(devs))
	for i, d := range devs {
		out[i] = model.DeviceUpdate{Name: d.dev.Name, Interfaces: d.dev.Interfaces}
	}
	return out, nil
}

// editGateway serves a member action: the whole gateway is answered, with
// its revision_number, as a PUT on the gateway answers it.
func (h *handler) editGateway(w http.ResponseWriter, r *http.Request, add bool, do editFunc) {
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	devs, err := decodeGatewayAction(body, add)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	ifRevision, err := ifMatchRevision(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	gw, err := do(r.Context(), r.PathValue("id"), devs, ifRevision)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusOK, neutron.KeyGateway, neutron.FromGateway(gw))
}
