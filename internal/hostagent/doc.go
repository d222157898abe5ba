// Package hostagent realises a compute host's plan (planner.HostPlan) in the
// Linux kernel with netlink, through the shared VXLAN data plane
// (internal/linuxvxlan), and runs the host agent loop that keeps it so.
//
// # Kernel state
//
// For every network of the plan, with VNI n, the host holds:
//
//   - l2br<n>: a Linux bridge with the network's MTU, up;
//   - l2vx<n>: a VXLAN device for VNI n (local = the host's VTEP IP, UDP port
//     4789, learning off, MTU = the network's MTU or 1450), up, a port of l2br<n>
//     with bridge-port learning off;
//   - neither device with an IPv6 link-local address;
//   - the plan's interfaces of the network (taps created by the VM side) as
//     ports of l2br<n>, once they exist;
//   - on l2vx<n>, for each MAC of a peer (a VM on another host of the
//     network) and each bare-metal MAC behind a connected switch, the VXLAN
//     FDB entry "MAC dst VTEP_IP self permanent" (the peer's VTEP, the
//     switch's tunnel IP) and the bridge entry "MAC master static";
//   - on l2vx<n>, for each peer's VTEP IP and each flood IP (switch),
//     "00:00:00:00:00:00 dst IP self permanent" (head-end replication of
//     broadcast, unknown unicast and multicast).
//
// # Ownership
//
// A device is ours when its name is l2vx<digits> or l2br<digits>; nothing is
// recorded elsewhere, so a restarted agent recovers its state from the kernel.
// On our VXLAN devices every "self" entry and every static "master" entry is
// ours; learned and local (permanent) bridge entries are left to the kernel.
// A port is ours to release when its master is one of our bridges. Other
// devices and FDB entries on other devices are never touched.
package hostagent
