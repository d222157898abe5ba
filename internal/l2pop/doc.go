// Package l2pop reaches the compute hosts of an OpenStack cloud the way
// Neutron's own l2population mechanism driver does: it casts
// add_fdb_entries and remove_fdb_entries over RabbitMQ (AMQP 0-9-1, the
// oslo.messaging wire format, openstack.md §2) to the hosts' Open vSwitch
// and Linux bridge agents, so that their tunnels reach the switches of
// the connected networks.
//
// The shape is that of the planner and its agents: Compute is pure (an
// inventory in, the entries each connected network needs and the hosts
// that need a targeted re-send out), and a Runner diffs what Compute wants
// against what it last sent and publishes the difference, on every commit
// of the store, after every reconnect to the broker (everything again) and
// on a periodic re-assert.
package l2pop
