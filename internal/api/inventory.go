package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// hostSpec: a host is named once; its VTEP IP and description may change.
var hostSpec = []attr{
	{name: "id"},
	{name: "name", post: true, required: true},
	{name: "vtep_ip", post: true, put: true, required: true},
	{name: "description", post: true, put: true},
}

// vtepIPAttr validates a host's VTEP IP: an IP address, and IPv4, since
// hardware_vtep switches only reach vxlan_over_ipv4 locators (a host behind
// an IPv6 VTEP would be accepted and never programmed).
func vtepIPAttr(v any) (string, error) {
	ip, err := ipAttr("vtep_ip", v)
	if err != nil {
		return "", err
	}
	v4, ok := model.VTEPIPv4(ip)
	if !ok {
		return "", invalidAttr("vtep_ip", fmt.Sprintf("'%s' is not a valid IPv4 address: hardware_vtep switches reach VTEPs over vxlan_over_ipv4 only", ip))
	}
	return v4, nil
}

func decodeHostCreate(body any) (model.Host, error) {
	items, _, err := envelope(body, neutron.KeyHost, neutron.KeyHosts, false)
	if err != nil {
		return model.Host{}, err
	}
	res := items[0]
	if err := checkAttrs(res, hostSpec, true); err != nil {
		return model.Host{}, err
	}
	var hst model.Host
	if hst.Name, _, err = stringAttr(res, "name", maxNameLen); err != nil {
		return hst, err
	}
	if hst.Name == "" {
		return hst, invalidAttr("name", "'' is not a valid host name")
	}
	if hst.VTEPIP, err = vtepIPAttr(res["vtep_ip"]); err != nil {
		return hst, err
	}
	if hst.Description, _, err = stringAttr(res, "description", maxNameLen); err != nil {
		return hst, err
	}
	return hst, nil
}

func (h *handler) createHost(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hst, err := decodeHostCreate(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if hst, err = h.st.CreateHost(r.Context(), hst); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusCreated, neutron.KeyHost, neutron.FromHost(hst, h.now()))
}

func (h *handler) updateHost(w http.ResponseWriter, r *http.Request) {
	res, err := h.readUpdate(w, r, neutron.KeyHost, neutron.KeyHosts, hostSpec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var ip string
	v, hasIP := res["vtep_ip"]
	if hasIP {
		if ip, err = vtepIPAttr(v); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	desc, hasDesc, err := stringAttr(res, "description", maxNameLen)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hst, err := h.st.GetHost(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if hasIP || hasDesc {
		if hasIP {
			hst.VTEPIP = ip
		}
		if hasDesc {
			hst.Description = desc
		}
		if hst, err = h.st.UpdateHost(r.Context(), hst); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	writeMember(w, r, http.StatusOK, neutron.KeyHost, neutron.FromHost(hst, h.now()))
}

func (h *handler) listHosts(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	serveList(h, w, r, collection[neutron.Host]{
		res: neutron.Hosts,
		list: func(ctx context.Context, q store.Query) ([]neutron.Host, error) {
			hs, err := h.st.ListHosts(ctx, q)
			return toWire(hs, func(x model.Host) neutron.Host { return neutron.FromHost(x, now) }), err
		},
		id: func(x neutron.Host) string { return x.ID },
		attr: func(x neutron.Host, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(x.ID), true
			case "name":
				return one(x.Name), true
			case "vtep_ip":
				return one(x.VTEPIP), true
			case "alive":
				return boolStr(x.Alive), true
			}
			return nil, false
		},
		push: func(q *store.Query, k string, vals []string) bool {
			if k == "tenant_id" {
				return false
			}
			return pushCommon(q, k, vals)
		},
	})
}

// showSwitch finds a switch by name, else by id.
func (h *handler) showSwitch(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("id")
	sw, err := h.st.GetSwitch(r.Context(), key)
	if errors.Is(err, model.ErrNotFound) {
		var list []model.Switch
		list, err = h.st.ListSwitches(r.Context(), store.Query{IDs: []string{key}})
		switch {
		case err != nil:
		case len(list) == 0:
			err = notFound("SwitchNotFound", "Switch %s could not be found.", key)
		default:
			sw = list[0]
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	view, err := h.withHolders(r.Context(), []model.Switch{sw})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusOK, neutron.KeySwitch, view[0])
}

func (h *handler) listSwitches(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, collection[neutron.Switch]{
		res: neutron.Switches,
		list: func(ctx context.Context, q store.Query) ([]neutron.Switch, error) {
			ss, err := h.st.ListSwitches(ctx, q)
			if err != nil {
				return nil, err
			}
			return h.withHolders(ctx, ss)
		},
		id:     func(s neutron.Switch) string { return s.ID },
		cursor: func(s neutron.Switch) string { return s.Name }, // store.ListSwitches orders by name
		attr: func(s neutron.Switch, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(s.ID), true
			case "name":
				return one(s.Name), true
			case "connected":
				return boolStr(s.Connected), true
			case "tunnel_ips":
				return s.TunnelIPs, true
			case "management_ips":
				return s.ManagementIPs, true
			}
			return nil, false
		},
		push: func(q *store.Query, k string, vals []string) bool {
			switch k {
			case "id":
				q.IDs = vals
			case "name":
				q.Names = vals
			default:
				return false
			}
			return true
		},
	})
}

func (h *handler) listLocalMACs(w http.ResponseWriter, r *http.Request) {
	serveList(h, w, r, collection[neutron.LocalMAC]{
		res: neutron.LocalMACs,
		list: func(ctx context.Context, q store.Query) ([]neutron.LocalMAC, error) {
			ms, err := h.st.ListLocalMACs(ctx, q)
			return toWire(ms, neutron.FromLocalMAC), err
		},
		attr: func(m neutron.LocalMAC, k string) ([]string, bool) {
			switch k {
			case "switch":
				return one(m.Switch), true
			case "network_id":
				return one(m.NetworkID), true
			case "mac_address":
				return one(m.MACAddress), true
			case "ip_address":
				return one(m.IPAddress), true
			case "locator_ip":
				return one(m.LocatorIP), true
			}
			return nil, false
		},
		push: func(q *store.Query, k string, vals []string) bool {
			if k == "network_id" {
				q.NetworkIDs = slices.Clone(vals)
				return true
			}
			return false
		},
	})
}
