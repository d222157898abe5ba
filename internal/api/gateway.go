package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// gatewaySpec is networking-l2gw's RESOURCE_ATTRIBUTE_MAP for l2_gateways.
var gatewaySpec = append([]attr{
	{name: "id"},
	{name: "name", post: true, put: true},
	{name: "devices", post: true, put: true, required: true},
}, tenantSpec...)

// deviceIn is a validated device of a request; hasVLANKey records, per
// interface, whether the request carried segmentation_id (the original's
// consistency rule looks at the key, not at the values).
type deviceIn struct {
	dev        model.Device
	hasVLANKey []bool
}

const notIterable = "validate_gwdevice_list: provided data are not iterable"

// parseDevices is networking-l2gw's validate_gwdevice_list plus
// is_valid_vlan_id, returning 400s where the original raised 500s.
func parseDevices(v any) ([]deviceIn, error) {
	if !truthy(v) {
		return nil, invalidAttr("devices", "Cannot create a gateway with an empty device list")
	}
	list, ok := v.([]any)
	if !ok {
		if _, isNum := v.(bool); isNum {
			return nil, invalidAttr("devices", notIterable)
		}
		if _, isNum := v.(interface{ Int64() (int64, error) }); isNum {
			return nil, invalidAttr("devices", notIterable)
		}
		return nil, invalidAttr("devices", "devices format is not a type list of dicts")
	}
	out := make([]deviceIn, 0, len(list))
	for di, dv := range list {
		d, ok := dv.(map[string]any)
		if !ok {
			return nil, invalidAttr("devices", "devices format is not a type list of dicts")
		}
		if err := checkKeys(d, fmt.Sprintf("devices[%d]", di), "device_name", "interfaces"); err != nil {
			return nil, err
		}
		ifaces, name := d["interfaces"], d["device_name"]
		if !truthy(name) {
			return nil, invalidAttr("devices", "Cannot create a gateway with an empty device_name")
		}
		if !truthy(ifaces) {
			return nil, invalidAttr("devices", "Cannot create a gateway with an empty interfaces")
		}
		ilist, ok := ifaces.([]any)
		if !ok {
			return nil, invalidAttr("devices", "interfaces format is not a type list of dicts")
		}
		devName, ok := name.(string)
		if !ok {
			return nil, invalidAttr("devices", "device_name '"+pyStr(name)+"' is not a valid string")
		}
		if len([]rune(devName)) > maxNameLen {
			return nil, invalidAttr("devices", "device_name exceeds maximum length of 255")
		}
		if slices.ContainsFunc(out, func(o deviceIn) bool { return o.dev.Name == devName }) {
			// The store would keep both and updates find the first only.
			return nil, invalidAttr("devices", fmt.Sprintf("device '%s' is listed twice; list each device once with all its interfaces", devName))
		}
		in := deviceIn{dev: model.Device{Name: devName}}
		for ii, iv := range ilist {
			it, ok := iv.(map[string]any)
			if !ok {
				return nil, invalidAttr("devices", "interfaces format is not a type dict")
			}
			if err := checkKeys(it, fmt.Sprintf("devices[%d].interfaces[%d]", di, ii), "name", "segmentation_id"); err != nil {
				return nil, err
			}
			if !truthy(it["name"]) {
				return nil, invalidAttr("devices", "Cannot create a gateway with an empty interface name")
			}
			ifName, ok := it["name"].(string)
			if !ok {
				return nil, invalidAttr("devices", "interface name '"+pyStr(it["name"])+"' is not a valid string")
			}
			if len([]rune(ifName)) > maxNameLen {
				return nil, invalidAttr("devices", "interface name exceeds maximum length of 255")
			}
			iface := model.Interface{Name: ifName}
			seg, has := it["segmentation_id"]
			if has {
				segs, isList := seg.([]any)
				if truthy(seg) && !isList {
					return nil, invalidAttr("devices", "segmentation_id type should be of list type ")
				}
				if !truthy(seg) {
					return nil, invalidAttr("devices", "segmentation_id_list should not be empty")
				}
				for _, s := range segs {
					vlan, err := parseVLAN(s)
					if err != nil {
						return nil, err
					}
					iface.SegmentationIDs = append(iface.SegmentationIDs, vlan)
				}
			}
			in.dev.Interfaces = append(in.dev.Interfaces, iface)
			in.hasVLANKey = append(in.hasVLANKey, has)
		}
		out = append(out, in)
	}
	return out, nil
}

// parseVLAN is is_valid_vlan_id: int() of the value, then 1..4094 (0 is
// not a VLAN, model.CheckVLAN).
func parseVLAN(v any) (int, error) {
	switch v.(type) {
	case nil, []any, map[string]any:
		// int() raises TypeError, which the validator reports so.
		return 0, invalidAttr("devices", notIterable)
	}
	n, ok, tooBig := pyInt(v)
	if !ok {
		return 0, invalidInput("Segmentation id must be a valid integer")
	}
	if tooBig {
		return 0, invalidInput("Segmentation id is out of range")
	}
	if err := model.CheckVLAN(n); err != nil {
		return 0, err
	}
	return n, nil
}

// checkConsistent is the plugin's rule that within one device either every
// interface has segmentation ids or none has.
func checkConsistent(devs []deviceIn) error {
	for _, d := range devs {
		for _, has := range d.hasVLANKey {
			if has != d.hasVLANKey[0] {
				return model.NewFault(model.ErrConflict, "L2GatewaySegmentationRequired", "L2 gateway segmentation id must be consistent for all the interfaces")
			}
		}
	}
	return nil
}

// decodeGatewayCreate validates a POST body into a gateway.
func decodeGatewayCreate(body any, project string) (model.Gateway, error) {
	items, _, err := envelope(body, neutron.KeyGateway, neutron.KeyGateways, false)
	if err != nil {
		return model.Gateway{}, err
	}
	res := items[0]
	if err := checkAttrs(res, gatewaySpec, true); err != nil {
		return model.Gateway{}, err
	}
	gw := model.Gateway{TenantID: project}
	if gw.Name, _, err = stringAttr(res, "name", maxNameLen); err != nil {
		return model.Gateway{}, err
	}
	devs, err := parseDevices(res["devices"])
	if err != nil {
		return model.Gateway{}, err
	}
	if t, ok, err := stringAttr(res, "tenant_id", maxNameLen); err != nil {
		return model.Gateway{}, err
	} else if ok {
		gw.TenantID = t
	}
	if err := checkConsistent(devs); err != nil {
		return model.Gateway{}, err
	}
	for _, d := range devs {
		gw.Devices = append(gw.Devices, d.dev)
	}
	return gw, nil
}

// decodeGatewayUpdate validates a PUT body; devs keeps the per-interface
// segmentation_id key presence for the consistency check.
func decodeGatewayUpdate(body any) (model.GatewayUpdate, []deviceIn, error) {
	items, _, err := envelope(body, neutron.KeyGateway, neutron.KeyGateways, false)
	if err != nil {
		return model.GatewayUpdate{}, nil, err
	}
	res := items[0]
	if err := checkAttrs(res, gatewaySpec, false); err != nil {
		return model.GatewayUpdate{}, nil, err
	}
	var u model.GatewayUpdate
	if name, ok, err := stringAttr(res, "name", maxNameLen); err != nil {
		return u, nil, err
	} else if ok {
		u.Name = &name
	}
	var devs []deviceIn
	if v, ok := res["devices"]; ok {
		if devs, err = parseDevices(v); err != nil {
			return u, nil, err
		}
		for _, d := range devs {
			u.Devices = append(u.Devices, model.DeviceUpdate{Name: d.dev.Name, Interfaces: d.dev.Interfaces})
		}
	}
	return u, devs, nil
}

func (h *handler) createGateway(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	gw, err := decodeGatewayCreate(body, callerProject(r))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	gw, err = h.st.CreateGateway(r.Context(), gw)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusCreated, neutron.KeyGateway, neutron.FromGateway(gw))
}

func (h *handler) updateGateway(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	u, devs, err := decodeGatewayUpdate(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// If-Match: revision_number=N makes the update conditional; the store
	// compares inside its transaction (412 RevisionNumberConstraintFailed).
	if u.IfRevision, err = ifMatchRevision(r); err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(devs) > 0 {
		// The plugin's order: gateway, then each device, then consistency;
		// the store repeats the first two inside its transaction.
		cur, err := h.st.GetGateway(r.Context(), id)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		for _, d := range devs {
			if !hasDevice(cur, d.dev.Name) {
				h.writeError(w, r, notFound("L2GatewayDeviceNotFound", "L2 Gateway Device %s could not be found.", d.dev.Name))
				return
			}
		}
		if err := checkConsistent(devs); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	gw, err := h.st.UpdateGateway(r.Context(), id, u)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusOK, neutron.KeyGateway, neutron.FromGateway(gw))
}

func hasDevice(gw model.Gateway, name string) bool {
	for _, d := range gw.Devices {
		if d.Name == name {
			return true
		}
	}
	return false
}

func (h *handler) listGateways(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, collection[neutron.Gateway]{
		res:  neutron.Gateways,
		kind: store.KindGateway,
		list: func(ctx context.Context, q store.Query) ([]neutron.Gateway, error) {
			gws, err := h.st.ListGateways(ctx, q)
			return toWire(gws, neutron.FromGateway), err
		},
		id: func(g neutron.Gateway) string { return g.ID },
		attr: func(g neutron.Gateway, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(g.ID), true
			case "name":
				return one(g.Name), true
			case "tenant_id":
				return one(g.TenantID), true
			case "revision_number":
				return one(strconv.FormatInt(g.RevisionNumber, 10)), true
			}
			return nil, false
		},
		push: pushCommon,
	})
}
