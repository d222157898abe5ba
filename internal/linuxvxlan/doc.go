// Package linuxvxlan is the Linux VXLAN data plane shared by the host agent
// and the soft VTEP: per VNI a bridge and a VXLAN device, member ports
// enslaved to the bridge, and the FDB entries that send a MAC, or flooded
// traffic, to remote VTEPs.
//
// # Kernel state
//
// For every Network given to Dataplane.Sync, with VNI n:
//
//   - Names.BridgeName(n): a Linux bridge with the network's MTU, up;
//   - Names.VXLANName(n): a VXLAN device for VNI n (local = Config.Local, UDP
//     port Port, no VXLAN learning, no group, MTU of the network), a port of
//     the bridge with bridge-port learning off (remote MACs come from the
//     plan, never from traffic), up;
//   - both without an IPv6 link-local address (addr_gen_mode none), so the
//     host itself sends no ND or MLD into tenant networks;
//   - the network's ports enslaved to the bridge, up, once they exist;
//   - on the VXLAN device, per remote MAC M at VTEP R, "M dst R self
//     permanent" (replaced in place when M moves: a unicast MAC has one
//     remote) and "M master static" so the bridge forwards M to the tunnel;
//   - per flood VTEP F, "00:00:00:00:00:00 dst F self permanent", appended:
//     the kernel replicates broadcast, unknown unicast and multicast to every
//     remote of the all-zero entry (head-end replication, RFC 7348 section 4.2).
//
// # Ownership
//
// A device is ours when Names parses its name, whatever its type: a device
// of ours with the wrong type or configuration is deleted and created again,
// and one whose VNI is not wanted is deleted. On our VXLAN devices every
// "self" entry and every static "master" entry is ours; learned and local
// bridge entries belong to the kernel. A port is ours to release when its
// master is one of our bridges. Nothing else is touched, and nothing is
// recorded outside the kernel: a restarted process converges from what it
// finds.
//
// # Failures
//
// Sync is level-triggered and carries on past a failing network or port,
// returning every error joined: the caller retries the whole Sync later.
// The Result says whose each error is (NetworkErrors by VNI, GlobalError
// for those that concern every network), so that a network realised as
// given is known to be, whatever failed beside it. An
// object that vanishes while Sync works on it (ENODEV, ENOENT) is treated as
// gone, not as a failure: a missing port is reported in Result.Missing and
// enslaved by a later Sync. Netlink dumps the kernel reports as interrupted
// by a concurrent change (NLM_F_DUMP_INTR) are read again.
package linuxvxlan
