// Package vtepmodel holds the libovsdb models of the hardware_vtep schema
// (Debian's openvswitch-vtep, /usr/share/openvswitch/vtep.ovsschema, 1.7.0),
// generated into ./vtep by:
//
//	go tool modelgen -p vtep -o ./internal/vtepmodel/vtep /usr/share/openvswitch/vtep.ovsschema
//
// and, next to them, vtep/columns.go: a constant per column of every model
// (vtep.LogicalSwitchTunnelKeyColumn is "tunnel_key"), written by
// ./columngen from the models' ovsdb tags, for code that builds raw OVSDB
// operations. columngen's test fails when the constants are stale.
package vtepmodel

//go:generate go tool modelgen -p vtep -o ./vtep /usr/share/openvswitch/vtep.ovsschema
//go:generate go run ./columngen -o ./vtep/columns.go
