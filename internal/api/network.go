package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// minVNI is the smallest VNI of a VXLAN network (0 is reserved); the
// largest is model.MaxVNI.
const minVNI = 1

// defaultMTU is Neutron's MTU of a VXLAN network on a 1500-byte underlay.
const defaultMTU = 1450

// networkSpec is the part of Neutron's network attributes l2gw keeps; the
// ignored ones are accepted so that stock clients work.
var networkSpec = append([]attr{
	{name: "id"},
	{name: "name", post: true, put: true},
	{name: "admin_state_up", post: true, put: true},
	{name: "shared", post: true},
	{name: "mtu", post: true},
	{name: "provider:network_type", post: true},
	{name: "provider:physical_network", post: true},
	{name: "provider:segmentation_id", post: true},
	// Accepted and ignored.
	{name: "description", post: true, put: true},
	{name: "port_security_enabled", post: true, put: true},
	{name: "availability_zone_hints", post: true},
	{name: "router:external", post: true},
	{name: "dns_domain", post: true, put: true},
	{name: "qos_policy_id", post: true, put: true},
	{name: "is_default", post: true},
}, tenantSpec...)

func decodeNetworkCreate(res map[string]any, project string) (model.Network, error) {
	if err := checkAttrs(res, networkSpec, true); err != nil {
		return model.Network{}, err
	}
	n := model.Network{TenantID: project, AdminStateUp: true, NetworkType: "vxlan", MTU: defaultMTU}
	var err error
	if n.Name, _, err = stringAttr(res, "name", maxNameLen); err != nil {
		return n, err
	}
	if v, ok, err := boolAttr(res, "admin_state_up"); err != nil {
		return n, err
	} else if ok {
		n.AdminStateUp = v
	}
	if n.Shared, _, err = boolAttr(res, "shared"); err != nil {
		return n, err
	}
	if v, ok, err := intAttr(res, "mtu", 68, 65535); err != nil {
		return n, err
	} else if ok {
		n.MTU = v
	}
	if typ, ok := res["provider:network_type"]; ok && typ != nil {
		s, isStr := typ.(string)
		if !isStr {
			return n, invalidAttr("provider:network_type", fmt.Sprintf("'%s' is not a valid string", pyStr(typ)))
		}
		if s != "vxlan" {
			return n, invalidInput("network_type value '%s' not supported", s)
		}
	}
	if pn, ok := res["provider:physical_network"]; ok && pn != nil && pn != "" {
		return n, invalidInput("provider:physical_network prohibited for vxlan provider network")
	}
	if v, ok := res["provider:segmentation_id"]; ok && v != nil {
		vni, isInt, tooBig := pyInt(v)
		if !isInt {
			return n, invalidAttr("provider:segmentation_id", fmt.Sprintf("'%s' is not an integer", pyStr(v)))
		}
		if tooBig || vni < minVNI || vni > model.MaxVNI {
			return n, invalidInput("%s is not a valid VXLAN VNI, valid range is %d-%d", pyStr(v), minVNI, model.MaxVNI)
		}
		n.VNI = vni
	}
	if _, err := optionalStrings(res, "description", "dns_domain"); err != nil {
		return n, err
	}
	if t, ok, err := stringAttr(res, "tenant_id", maxNameLen); err != nil {
		return n, err
	} else if ok {
		n.TenantID = t
	}
	return n, nil
}

// optionalStrings validates accepted-but-ignored string attributes.
func optionalStrings(res map[string]any, names ...string) (int, error) {
	for _, name := range names {
		if v, ok := res[name]; ok && v != nil {
			if _, _, err := stringAttr(res, name, 0); err != nil {
				return 0, err
			}
		}
	}
	return 0, nil
}

func (h *handler) createNetworks(w http.ResponseWriter, r *http.Request) {
	serveCreate(h, w, r, bulkCreate[model.Network, neutron.Network]{
		member: neutron.KeyNetwork, collection: neutron.KeyNetworks,
		decode: decodeNetworkCreate, create: h.st.CreateNetworks, wire: neutron.FromNetwork,
	})
}

func (h *handler) updateNetwork(w http.ResponseWriter, r *http.Request) {
	res, err := h.readUpdate(w, r, neutron.KeyNetwork, neutron.KeyNetworks, networkSpec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	name, hasName, err := stringAttr(res, "name", maxNameLen)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	up, hasUp, err := boolAttr(res, "admin_state_up")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if _, err := optionalStrings(res, "description", "dns_domain"); err != nil {
		h.writeError(w, r, err)
		return
	}
	n, err := h.st.GetNetwork(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if hasName || hasUp {
		if hasName {
			n.Name = name
		}
		if hasUp {
			n.AdminStateUp = up
		}
		if n, err = h.st.UpdateNetwork(r.Context(), n); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeMember(w, r, http.StatusOK, neutron.KeyNetwork, neutron.FromNetwork(n))
}

func (h *handler) listNetworks(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, collection[neutron.Network]{
		res: neutron.Networks,
		list: func(ctx context.Context, q store.Query) ([]neutron.Network, error) {
			ns, err := h.st.ListNetworks(ctx, q)
			return toWire(ns, neutron.FromNetwork), err
		},
		id: func(n neutron.Network) string { return n.ID },
		attr: func(n neutron.Network, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(n.ID), true
			case "name":
				return one(n.Name), true
			case "tenant_id":
				return one(n.TenantID), true
			case "admin_state_up":
				return boolStr(n.AdminStateUp), true
			case "shared":
				return boolStr(n.Shared), true
			case "status":
				return one(n.Status), true
			case "mtu":
				return one(strconv.Itoa(n.MTU)), true
			case "provider:network_type":
				return one(n.NetworkType), true
			case "provider:segmentation_id":
				return one(strconv.Itoa(n.SegmentationID)), true
			}
			return nil, false
		},
		push: pushCommon,
	})
}
