package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// connectionSpec is networking-l2gw's RESOURCE_ATTRIBUTE_MAP for
// l2_gateway_connections: nothing can be updated.
var connectionSpec = append([]attr{
	{name: "id"},
	{name: "l2_gateway_id", post: true},
	{name: "network_id", post: true, required: true},
	{name: "segmentation_id", post: true},
}, tenantSpec...)

// connectionIn is a validated connection create; segText is the
// segmentation id as the request gave it, segErr is set when it is not a
// valid VLAN, reported only after the checks the original runs first.
type connectionIn struct {
	conn    model.Connection
	segText string
	segErr  error
}

// createdConnection is the answer to a create: the original echoes the
// request's segmentation_id string there (show and list give an integer).
type createdConnection struct {
	neutron.Connection
	SegmentationID string `json:"segmentation_id"`
}

func decodeConnectionCreate(body any, project string) (connectionIn, error) {
	items, _, err := envelope(body, neutron.KeyConnection, neutron.KeyConnection+"s", false)
	if err != nil {
		return connectionIn{}, err
	}
	res := items[0]
	if err := checkAttrs(res, connectionSpec, true); err != nil {
		return connectionIn{}, err
	}
	in := connectionIn{conn: model.Connection{TenantID: project}}
	if in.conn.GatewayID, _, err = stringAttr(res, "l2_gateway_id", maxNameLen); err != nil {
		return connectionIn{}, err
	}
	if in.conn.NetworkID, _, err = stringAttr(res, "network_id", maxNameLen); err != nil {
		return connectionIn{}, err
	}
	seg, err := segmentationIDAttr(res)
	if err != nil {
		return connectionIn{}, err
	}
	if t, ok, err := stringAttr(res, "tenant_id", maxNameLen); err != nil {
		return connectionIn{}, err
	} else if ok {
		in.conn.TenantID = t
	}
	in.segText = seg
	if seg != "" {
		n, ok, tooBig := pyInt(seg)
		switch {
		case !ok:
			in.segErr = invalidInput("Segmentation id must be a valid integer")
		case tooBig:
			in.segErr = invalidInput("Segmentation id is out of range")
		default:
			if in.segErr = model.CheckVLAN(n); in.segErr == nil {
				in.conn.SegmentationID = &n
			}
		}
	}
	return in, nil
}

// segmentationIDAttr reads a connection's default segmentation_id: a string
// as the original requires, or a JSON number (the seed's example sends
// one; the original answered 400), taken as its text, so that 100 and
// "100" give the same connection and 1.5 the same "valid integer" error.
// Other types are refused as the original does.
func segmentationIDAttr(res map[string]any) (string, error) {
	if n, ok := res["segmentation_id"].(json.Number); ok {
		return string(n), nil
	}
	seg, _, err := stringAttr(res, "segmentation_id", 0)
	return seg, err
}

func (h *handler) createConnection(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	in, err := decodeConnectionCreate(body, callerProject(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if in.segErr != nil {
		h.writeError(w, r, h.badSegmentationID(r.Context(), in))
		return
	}
	c, err := h.st.CreateConnection(r.Context(), in.conn)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusCreated, neutron.KeyConnection, createdConnection{neutron.FromConnection(c), in.segText})
}

// badSegmentationID reports an invalid default segmentation id after the
// checks the original makes before parsing it: the network must exist, and
// a gateway whose interfaces have VLANs refuses any default.
func (h *handler) badSegmentationID(ctx context.Context, in connectionIn) error {
	if _, err := h.st.GetNetwork(ctx, in.conn.NetworkID); err != nil {
		return err
	}
	gw, err := h.st.GetGateway(ctx, in.conn.GatewayID)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	if err == nil && gw.HasSegmentationIDs() {
		return invalidInput("default segmentation_id should not be provided when segmentation_id is assigned during l2gateway creation")
	}
	return in.segErr
}

// showConnection serves GET on a connection (and an empty update).
func (h *handler) showConnection() http.HandlerFunc {
	return show(h, h.st.GetConnection, neutron.KeyConnection, neutron.FromConnection)
}

// updateConnection refuses every attribute, as the original does; an empty
// update shows the connection unchanged.
func (h *handler) updateConnection(w http.ResponseWriter, r *http.Request) {
	if _, err := h.readUpdate(w, r, neutron.KeyConnection, neutron.KeyConnection+"s", connectionSpec); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.showConnection()(w, r)
}

func (h *handler) listConnections(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, collection[neutron.Connection]{
		res:  neutron.Connections,
		kind: store.KindConnection,
		list: func(ctx context.Context, q store.Query) ([]neutron.Connection, error) {
			cs, err := h.st.ListConnections(ctx, q)
			return toWire(cs, neutron.FromConnection), err
		},
		id: func(c neutron.Connection) string { return c.ID },
		attr: func(c neutron.Connection, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(c.ID), true
			case "tenant_id":
				return one(c.TenantID), true
			case "network_id":
				return one(c.NetworkID), true
			case "l2_gateway_id":
				return one(c.L2GatewayID), true
			case "segmentation_id":
				if !c.SegmentationID.Valid {
					return one(""), true
				}
				return one(fmt.Sprint(c.SegmentationID.ID)), true
			}
			return nil, false
		},
		push: func(q *store.Query, k string, vals []string) bool {
			switch k {
			case "name": // connections have none
				return false
			case "network_id":
				q.NetworkIDs = vals
			case "l2_gateway_id":
				q.GatewayIDs = vals
			default:
				return pushCommon(q, k, vals)
			}
			return true
		},
	})
}
