// Package model holds l2gw's domain types (gateways, devices, interfaces,
// connections, networks, ports, hosts, switches) and the domain errors shared
// by validation, the store and the API. It does no I/O.
package model
