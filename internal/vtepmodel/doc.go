// Package vtepmodel holds the libovsdb models of the hardware_vtep schema
// (Debian's openvswitch-vtep, /usr/share/openvswitch/vtep.ovsschema, 1.7.0),
// generated into ./vtep by:
//
//	go tool modelgen -p vtep -o ./internal/vtepmodel/vtep /usr/share/openvswitch/vtep.ovsschema
package vtepmodel

//go:generate go tool modelgen -p vtep -o ./vtep /usr/share/openvswitch/vtep.ovsschema
