package api

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// portSpec is the part of Neutron's port attributes l2gw keeps; the ignored
// ones are accepted so that stock clients work.
var portSpec = append([]attr{
	{name: "id"},
	{name: "name", post: true, put: true},
	{name: "network_id", post: true, required: true},
	{name: "mac_address", post: true},
	{name: "fixed_ips", post: true, put: true},
	{name: "binding:host_id", post: true, put: true},
	{name: "binding:profile", post: true, put: true},
	{name: "device_owner", post: true, put: true},
	{name: "device_id", post: true, put: true},
	{name: "admin_state_up", post: true, put: true},
	{name: "allowed_address_pairs", post: true, put: true},
	// Accepted and ignored.
	{name: "description", post: true, put: true},
	{name: "security_groups", post: true, put: true},
	{name: "port_security_enabled", post: true, put: true},
	{name: "binding:vnic_type", post: true, put: true},
	{name: "dns_name", post: true, put: true},
}, tenantSpec...)

// decodePortAttrs applies the attributes present in res to p (create and update).
func decodePortAttrs(res map[string]any, p *model.Port) error {
	var err error
	var ok bool
	var s string
	if s, ok, err = stringAttr(res, "name", maxNameLen); err != nil {
		return err
	} else if ok {
		p.Name = s
	}
	if v, ok := res["mac_address"]; ok {
		if p.MACAddress, err = macAttr("mac_address", v); err != nil {
			return err
		}
	}
	if v, ok := res["fixed_ips"]; ok {
		if p.FixedIPs, err = parseFixedIPs(v); err != nil {
			return err
		}
	}
	if s, ok, err = stringAttr(res, "binding:host_id", maxNameLen); err != nil {
		return err
	} else if ok {
		p.HostID = s
	}
	if v, ok := res["binding:profile"]; ok {
		if p.InterfaceName, err = parseProfile(v); err != nil {
			return err
		}
	}
	if s, ok, err = stringAttr(res, "device_owner", maxNameLen); err != nil {
		return err
	} else if ok {
		p.DeviceOwner = s
	}
	if s, ok, err = stringAttr(res, "device_id", maxNameLen); err != nil {
		return err
	} else if ok {
		p.DeviceID = s
	}
	if b, ok, err := boolAttr(res, "admin_state_up"); err != nil {
		return err
	} else if ok {
		p.AdminStateUp = b
	}
	if v, ok := res["allowed_address_pairs"]; ok {
		if p.AllowedAddressPairs, err = parseAddressPairs(v); err != nil {
			return err
		}
	}
	_, err = optionalStrings(res, "description", "dns_name", "binding:vnic_type")
	return err
}

// parseFixedIPs reads [{"ip_address": ..., "subnet_id": ...}]. l2gw has no
// subnets to allocate from, so each entry needs an ip_address.
func parseFixedIPs(v any) ([]model.FixedIP, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, invalidAttr("fixed_ips", fmt.Sprintf("Invalid data format for fixed IP: '%s'", pyStr(v)))
	}
	out := make([]model.FixedIP, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalidAttr("fixed_ips", fmt.Sprintf("Invalid data format for fixed IP: '%s'", pyStr(e)))
		}
		for k := range m {
			if k != "ip_address" && k != "subnet_id" {
				return nil, invalidAttr("fixed_ips", fmt.Sprintf("Invalid data format for fixed IP: '%s'", pyStr(e)))
			}
		}
		ipv, ok := m["ip_address"]
		if !ok {
			return nil, invalidAttr("fixed_ips", "Fixed IP without ip_address: l2gw allocates no addresses")
		}
		ip, err := ipAttr("fixed_ips", ipv)
		if err != nil {
			return nil, err
		}
		f := model.FixedIP{IPAddress: ip}
		if sv, ok := m["subnet_id"]; ok && sv != nil {
			s, isStr := sv.(string)
			if !isStr || len(s) > maxNameLen {
				return nil, invalidAttr("fixed_ips", fmt.Sprintf("'%s' is not a valid subnet_id", pyStr(sv)))
			}
			f.SubnetID = s
		}
		out = append(out, f)
	}
	return out, nil
}

// parseProfile reads binding:profile, a dict; l2gw keeps interface_name and
// refuses other keys (Neutron stores any; l2gw would drop them).
func parseProfile(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", invalidAttr("binding:profile", fmt.Sprintf("'%s' is not a dictionary", pyStr(v)))
	}
	if err := checkKeys(m, "binding:profile", "interface_name"); err != nil {
		return "", err
	}
	name, ok := m["interface_name"]
	if !ok || name == nil {
		return "", nil
	}
	s, ok := name.(string)
	if !ok {
		return "", invalidAttr("binding:profile", fmt.Sprintf("interface_name '%s' is not a valid string", pyStr(name)))
	}
	if len(s) > maxNameLen {
		return "", invalidAttr("binding:profile", "interface_name exceeds maximum length of 255")
	}
	return s, nil
}

// parseAddressPairs reads allowed_address_pairs (neutron's
// _validate_allowed_address_pairs).
func parseAddressPairs(v any) ([]model.AddressPair, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, invalidAttr("allowed_address_pairs", "Allowed address pairs must be a list.")
	}
	out := make([]model.AddressPair, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, invalidAttr("allowed_address_pairs", "Allowed address pairs must be a list of dictionaries.")
		}
		if err := checkKeys(m, fmt.Sprintf("allowed_address_pairs[%d]", i), "ip_address", "mac_address"); err != nil {
			return nil, err
		}
		ipv, ok := m["ip_address"]
		if !ok {
			return nil, model.NewFault(model.ErrInvalid, "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address")
		}
		s, isStr := ipv.(string)
		if !isStr {
			return nil, invalidAttr("allowed_address_pairs", fmt.Sprintf("'%s' is not a valid IP address", pyStr(ipv)))
		}
		ip := ""
		if addr := net.ParseIP(s); addr != nil {
			ip = addr.String()
		} else if _, cidr, err := net.ParseCIDR(s); err == nil {
			ip = cidr.String()
		} else {
			return nil, invalidAttr("allowed_address_pairs", fmt.Sprintf("'%s' is not a valid IP address", s))
		}
		p := model.AddressPair{IPAddress: ip}
		if mv, ok := m["mac_address"]; ok && mv != nil && mv != "" {
			mac, err := macAttr("allowed_address_pairs", mv)
			if err != nil {
				return nil, err
			}
			p.MACAddress = mac
		}
		out = append(out, p)
	}
	return out, nil
}

func decodePortCreate(res map[string]any, project string) (model.Port, error) {
	if err := checkAttrs(res, portSpec, true); err != nil {
		return model.Port{}, err
	}
	p := model.Port{TenantID: project, AdminStateUp: true}
	var err error
	if p.NetworkID, _, err = stringAttr(res, "network_id", maxNameLen); err != nil {
		return p, err
	}
	if err := decodePortAttrs(res, &p); err != nil {
		return p, err
	}
	if t, ok, err := stringAttr(res, "tenant_id", maxNameLen); err != nil {
		return p, err
	} else if ok {
		p.TenantID = t
	}
	return p, nil
}

func (h *handler) createPorts(w http.ResponseWriter, r *http.Request) {
	serveCreate(h, w, r, bulkCreate[model.Port, neutron.Port]{
		member: neutron.KeyPort, collection: neutron.KeyPorts,
		decode: decodePortCreate, create: h.st.CreatePorts, wire: neutron.FromPort,
	})
}

func (h *handler) updatePort(w http.ResponseWriter, r *http.Request) {
	res, err := h.readUpdate(w, r, neutron.KeyPort, neutron.KeyPorts, portSpec)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// Validate before reading, so a bad body is a 400 whatever the id.
	var probe model.Port
	if err := decodePortAttrs(res, &probe); err != nil {
		h.writeError(w, r, err)
		return
	}
	p, err := h.st.GetPort(r.Context(), r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(res) > 0 {
		if err := decodePortAttrs(res, &p); err != nil {
			h.writeError(w, r, err)
			return
		}
		if p, err = h.st.UpdatePort(r.Context(), p); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	ws, err := h.wirePorts(r.Context(), []model.Port{p})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeMember(w, r, http.StatusOK, neutron.KeyPort, ws[0])
}

// maxHostFilter is the most host names a port list's status lookup names
// in its queries; beyond, it reads every host.
const maxHostFilter = 500

// getPort returns the port with its measured status.
func (h *handler) getPort(ctx context.Context, id string) (neutron.Port, error) {
	p, err := h.st.GetPort(ctx, id)
	if err != nil {
		return neutron.Port{}, err
	}
	ws, err := h.wirePorts(ctx, []model.Port{p})
	if err != nil {
		return neutron.Port{}, err
	}
	return ws[0], nil
}

// wirePorts converts ports with their measured status (neutron.PortStatus):
// what the agents of their hosts report.
func (h *handler) wirePorts(ctx context.Context, ps []model.Port) ([]neutron.Port, error) {
	return h.wirePortsWith(ctx, ps, &portHosts{})
}

// portHosts are the hosts (and their agents' status) that measure the
// status of the ports of one answer. A list streamed in chunks reads them
// by name for its first chunk and all at once for the next ones, not once
// per chunk (a whole list of 100,000 ports took 2 minutes that way).
type portHosts struct {
	reads int
	all   bool
	hosts map[string]*model.Host
	sts   map[string]*model.HostStatus
}

// load makes sure the hosts named are known: by name on the first read,
// then every host.
func (ph *portHosts) load(ctx context.Context, st Store, names []string) error {
	if ph.all {
		return nil
	}
	missing := names[:0:0]
	for _, n := range names {
		if _, ok := ph.hosts[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 && ph.hosts != nil {
		return nil
	}
	q := store.Query{Names: missing}
	if ph.reads > 0 || len(missing) > maxHostFilter {
		q, ph.all = store.Query{}, true
	}
	ph.reads++
	hosts, err := st.ListHosts(ctx, q)
	if err != nil {
		return err
	}
	sts, err := st.ListHostStatuses(ctx, q)
	if err != nil {
		return err
	}
	if ph.hosts == nil || ph.all {
		ph.hosts, ph.sts = make(map[string]*model.Host, len(hosts)), make(map[string]*model.HostStatus, len(sts))
	}
	for i := range hosts {
		ph.hosts[hosts[i].Name] = &hosts[i]
	}
	for i := range sts {
		ph.sts[sts[i].Name] = &sts[i]
	}
	// A name without a host row is known too: absent, not to read again.
	for _, n := range missing {
		if _, ok := ph.hosts[n]; !ok {
			ph.hosts[n] = nil
		}
	}
	return nil
}

func (h *handler) wirePortsWith(ctx context.Context, ps []model.Port, ph *portHosts) ([]neutron.Port, error) {
	seen := map[string]bool{}
	var names []string
	for _, p := range ps {
		if p.HostID != "" && !seen[p.HostID] {
			seen[p.HostID] = true
			names = append(names, p.HostID)
		}
	}
	out := toWire(ps, neutron.FromPort)
	if len(names) == 0 {
		return out, nil
	}
	if err := ph.load(ctx, h.st, names); err != nil {
		return nil, err
	}
	now := h.now()
	for i, p := range ps {
		out[i].Status = neutron.PortStatus(p, ph.hosts[p.HostID], ph.sts[p.HostID], now)
	}
	return out, nil
}

func (h *handler) listPorts(w http.ResponseWriter, r *http.Request) {
	hosts := &portHosts{}
	serveList(h, w, r, collection[neutron.Port]{
		res: neutron.Ports,
		list: func(ctx context.Context, q store.Query) ([]neutron.Port, error) {
			ps, err := h.st.ListPorts(ctx, q)
			if err != nil {
				return nil, err
			}
			return h.wirePortsWith(ctx, ps, hosts)
		},
		id: func(p neutron.Port) string { return p.ID },
		attr: func(p neutron.Port, k string) ([]string, bool) {
			switch k {
			case "id":
				return one(p.ID), true
			case "name":
				return one(p.Name), true
			case "tenant_id":
				return one(p.TenantID), true
			case "network_id":
				return one(p.NetworkID), true
			case "mac_address":
				return one(p.MACAddress), true
			case "binding:host_id":
				return one(p.HostID), true
			case "device_owner":
				return one(p.DeviceOwner), true
			case "device_id":
				return one(p.DeviceID), true
			case "status":
				return one(p.Status), true
			case "admin_state_up":
				return boolStr(p.AdminStateUp), true
			case "fixed_ips":
				var vs []string
				for _, f := range p.FixedIPs {
					vs = append(vs, "ip_address="+f.IPAddress, "subnet_id="+f.SubnetID)
				}
				return vs, true
			}
			return nil, false
		},
		push: func(q *store.Query, k string, vals []string) bool {
			switch k {
			case "network_id":
				q.NetworkIDs = vals
			case "binding:host_id":
				q.HostIDs = vals
			default:
				return pushCommon(q, k, vals)
			}
			return true
		},
	})
}
