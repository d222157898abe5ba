// Package softvtep is a hardware_vtep switch made of Linux: it registers a
// Physical_Switch and its Physical_Ports in its own ovsdb-server, realises
// what a controller writes there with netlink (one bridge and one VXLAN device
// per logical switch, FDB entries toward remote VTEPs) and publishes the MACs
// it learns on its ports as Ucast_Macs_Local rows.
//
// It behaves like a hardware VTEP: the controller talks to it only through
// the hardware_vtep schema (OVS vtep(5)), and it keeps forwarding while its
// agent is down.
//
// # Linux state
//
// Per Logical_Switch with tunnel_key K that has at least one binding on this
// switch's ports:
//
//   - bridge "svbr<K>" and VXLAN device "svvx<K>" (id K, local = tunnel IP,
//     dstport 4789, learning off), both with MTU 1450 and no IPv6 link-local
//     address, the VXLAN enslaved to the bridge with bridge-port learning
//     off, both up (internal/linuxvxlan makes them, as for the host agent);
//   - a binding (port P on interface I, VLAN V) is the device "I.V" (VLAN 0:
//     I itself), enslaved to the bridge. When no device of that name exists,
//     the soft VTEP creates it as an 802.1Q sub-interface of I; when the kernel
//     cannot (no 8021q module, see vtep-lab.md section 4), the binding is
//     reported in Physical_Port.port_fault_status;
//   - Ucast_Macs_Remote M at locator L: "bridge fdb replace M dev svvxK dst L
//     self permanent" (one remote per MAC) plus a static master entry for M
//     on svvxK;
//   - Mcast_Macs_Remote unknown-dst: an all-zero MAC "fdb append" entry per
//     locator of its set (head-end replication).
//
// # Ownership
//
// The soft VTEP owns exactly: devices named svbr<N> and svvx<N> (one of
// another type or configuration is deleted and made again), the "self" and
// static "master" FDB entries on those VXLAN devices, and VLAN
// sub-interfaces it created (marked with the interface alias OwnerAlias).
// Binding devices it did not create (the lab's veths) are only enslaved and
// released, never deleted. One soft VTEP per network namespace.
//
// # Restart and shutdown
//
// A hardware switch keeps forwarding when its management agent restarts, so
// by default the soft VTEP leaves its devices in place on exit and, on start,
// reconciles them against the database (level-triggered: database events,
// netlink events and a periodic tick all trigger a full diff). With
// Config.Cleanup it removes everything it owns on exit.
package softvtep
