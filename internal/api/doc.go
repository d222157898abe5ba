// Package api is l2gw's northbound HTTP API: the networking-l2gw resources
// (/v2.0/l2-gateways, /v2.0/l2-gateway-connections) and the Neutron-shaped
// inventory l2gw needs (networks, ports, hosts, switches, local MACs), with
// Neutron's request validation, NeutronError bodies, fields/filters/paging,
// authentication and an admin-only policy. Wire shapes live in
// internal/neutron; persistence in internal/store.
//
// The request validation follows neutron's Controller.prepare_request_body
// (neutron/api/v2/base.py) and networking-l2gw's validators
// (l2gw_validators.py), so that messages match the original word for word;
// where the original answers 500 this package answers 400/404/405
// (reference-api.md, "Do better").
package api
