package api

import (
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
)

// extensions are the Neutron API extensions l2gw implements; clients probe
// them (networking-l2gw's descriptors for the first two).
var extensions = []neutron.Extension{
	{Name: "L2 Gateway", Alias: neutron.ExtensionGateway, Description: "Connects Neutron networks with external networks at layer 2.", Updated: "2015-01-01T00:00:00-00:00", Links: []neutron.Link{}},
	{Name: "L2 Gateway connection", Alias: neutron.ExtensionConnects, Description: "Connects Neutron networks with external networks at layer 2.", Updated: "2014-01-01T00:00:00-00:00", Links: []neutron.Link{}},
	{Name: "Provider Network", Alias: "provider", Description: "Expose mapping of virtual networks to physical networks", Updated: "2012-09-07T10:00:00-00:00", Links: []neutron.Link{}},
	{Name: "Port Binding", Alias: "binding", Description: "Expose port bindings of a virtual port to external application", Updated: "2014-02-03T10:00:00-00:00", Links: []neutron.Link{}},
	{Name: "Allowed Address Pairs", Alias: "allowed-address-pairs", Description: "Provides allowed address pairs", Updated: "2013-07-23T10:00:00-00:00", Links: []neutron.Link{}},
	{Name: "Pagination support", Alias: "pagination", Description: "Extension that indicates that pagination is enabled.", Updated: "2016-06-12T00:00:00-00:00", Links: []neutron.Link{}},
	{Name: "project_id field enabled", Alias: "project-id", Description: "Extension that indicates that project_id field is enabled.", Updated: "2016-09-09T09:09:09-09:00", Links: []neutron.Link{}},
}

func (h *handler) listExtensions(w http.ResponseWriter, r *http.Request) {
	if h.upstream == nil {
		writeJSON(w, http.StatusOK, map[string]any{neutron.KeyExtensions: extensions})
		return
	}
	// In front of Neutron: its extensions, and the two l2gw adds (the
	// others of extensions are Neutron's own).
	up, err := h.upstream.Extensions(r)
	if err != nil {
		h.log.WarnContext(r.Context(), "neutron extensions", "err", err)
		h.writeError(w, r, model.NewFault(errUnavailable, "ServiceUnavailable", "The networking service (Neutron) behind l2gw did not answer its extensions."))
		return
	}
	out := make([]neutron.Extension, 0, len(up)+2)
	for _, e := range up {
		if e.Alias != neutron.ExtensionGateway && e.Alias != neutron.ExtensionConnects {
			out = append(out, e)
		}
	}
	out = append(out, extensions[:2]...)
	writeJSON(w, http.StatusOK, map[string]any{neutron.KeyExtensions: out})
}

func (h *handler) showExtension(w http.ResponseWriter, r *http.Request) {
	alias := r.PathValue("alias")
	if h.upstream != nil && alias != neutron.ExtensionGateway && alias != neutron.ExtensionConnects {
		h.upstream.ServeHTTP(w, r)
		return
	}
	for _, e := range extensions {
		if e.Alias == alias {
			writeJSON(w, http.StatusOK, map[string]any{neutron.KeyExtension: e})
			return
		}
	}
	h.writeError(w, r, notFound("HTTPNotFound", "Extension with alias %s does not exist", alias))
}

// versions answers GET / as neutron-server does.
func (h *handler) versions(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []neutron.Link{{Href: requestBase(r) + neutron.Base + "/", Rel: "self"}},
	}}})
}

// versionResources answers GET /v2.0: the resources of the version.
func (h *handler) versionResources(w http.ResponseWriter, r *http.Request) {
	base := requestBase(r)
	var out []map[string]any
	for _, res := range []neutron.Resource{neutron.Networks, neutron.Ports, neutron.Gateways, neutron.Connections, neutron.Hosts, neutron.Switches, neutron.LocalMACs} {
		out = append(out, map[string]any{
			"name": res.Member, "collection": res.Collection,
			"links": []neutron.Link{{Href: base + res.Path, Rel: "self"}},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out})
}
