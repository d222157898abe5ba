// Package neutron holds the JSON wire shapes of l2gw's northbound API, shared
// by the API server (internal/api) and the Go client (internal/client): the
// resource paths and envelope keys, the response and request bodies of
// networking-l2gw's l2-gateways and l2-gateway-connections, the Neutron-shaped
// inventory (networks, ports, hosts, switches, local MACs), the NeutronError
// body, and the conversions from internal/model.
//
// Shapes follow networking-l2gw on neutron-server 21 (see
// shared/reference-api.md): a gateway interface's segmentation_id is a
// list of strings; a connection's segmentation_id is an integer, or "" when
// none was given.
package neutron
