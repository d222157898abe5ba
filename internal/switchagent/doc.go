// Package switchagent makes the hardware_vtep switches of one database (an
// OVSDB server speaking the hardware_vtep schema, RFC 7047) hold the state
// l2gw plans for them, and reports each switch (ports, tunnel IPs, faults,
// local MACs) back.
//
// An Agent keeps one OVSDB session (tcp:, ssl: or unix:) of two
// connections, one monitoring the tables it needs into libovsdb's cache and
// one sending transactions, encoded without reflection, and monitoring
// Ucast_Macs_Remote (session.go, txnconn.go, opjson.go, remotemacs.go),
// redialled with a capped
// exponential backoff and checked with echo probes. It runs a
// level-triggered reconcile: every plan update, cache event, reconnect and
// periodic audit only enqueues; one worker diffs, for each served switch in
// name order, its desired plan against the cached database restricted to
// what l2gw owns and applies the minimal set of operations in one
// transaction, then waits until the cache shows the rows it inserted and
// not those it deleted (its remote MACs are in its view from the reply)
// before diffing the next switch.
//
// The served switches are every Physical_Switch of the database (or the one
// Config.Switch names), each with its own plan watch, report, status and
// incremental state. Logical switches and what they hold are per database,
// so switches connected to one network share them (share.go): the union of
// their plans is written and nothing another served plan needs is deleted.
// A switch with no IPv4 tunnel IP is reported with a fault and not
// programmed; learnt MACs that are not unicast are not reported.
// Operations name tables and columns with the constants generated with the
// models (internal/vtepmodel).
//
// The diff is incremental in steady state (incremental.go): remote MACs,
// the only part of a plan that grows with the network, are diffed only
// for the keys the plan changed (from the plan stream's deltas; by
// comparing a new whole plan with the last realised one) or other
// writers touched (monitor events; the echo of the agent's own updates and
// deletes is dropped), looked up through an index of the agent's view of
// Ucast_Macs_Remote. The full
// diff runs on the first sync of every session, on audit ticks, after any
// failure, whenever the logical switches resolve differently, after a
// locator change or an overflow of the event queue, and when more row keys
// are dirty than the larger of 256 and a quarter of the plan's MACs.
// Deltas received while the worker is busy (a slow switch) queue up to
// 1,024 deltas holding up to the larger of 4,096 rows and the plan's own
// size (planstream.Pending); past that they are applied to a copy of the
// plan, which the worker then takes as a whole plan.
//
// # Other writers' remote MACs
//
// Ucast_Macs_Remote, the table that grows with the network, is monitored
// without inserts (remotemacs.go): ovsdb-server would otherwise send every
// row the agent writes straight back, serialising it a second time, and
// the agent would decode it only to learn what it wrote. The agent takes
// its own inserts from the transaction's reply. So a row another writer
// deletes or modifies in one of our logical switches is seen at once and
// repaired, but a row another writer inserts there is seen only when the
// view is rebuilt from a new monitor's initial rows: at the next audit
// (Config.AuditInterval), on a new session (reconnect, ovsdb-server
// restart), when a modification of a row the agent never saw arrives, and
// when the agent takes a switch over from another (Config.Leases: the
// holder's inserts were another writer's).
//
// # Ownership
//
// l2gw records ownership in the database itself, so a restarted agent (or a
// fresh cache after reconnect) knows exactly what it wrote:
//
//   - A Logical_Switch is l2gw's iff other_config:l2gw-owner equals the
//     agent's owner value (Config.Owner, "l2gw" by default). The agent sets
//     it when it inserts a logical switch and never adopts an existing
//     logical switch without it: a plan naming a logical switch that exists
//     but is not ours is reported as an error and left alone.
//   - Every Ucast_Macs_Remote and Mcast_Macs_Remote row whose logical_switch
//     is ours is ours, and so is every Physical_Port.vlan_bindings entry whose
//     value is one of our logical switches. Bindings are changed only with
//     mutate insert/delete of our (vlan, logical switch) pairs, never by
//     rewriting the column, so foreign entries on the same port survive. A
//     (port, VLAN) the plan wants that is bound to a foreign logical switch
//     is left alone and reported as an error.
//   - Physical_Locator and Physical_Locator_Set rows are shared: existing
//     ones are reused (locators have a unique index on
//     (encapsulation_type, dst_ip, tunnel_key)), new ones are inserted only
//     in the transaction that references them, and none is ever deleted:
//     ovsdb-server garbage-collects them once nothing references them.
//   - Everything else (foreign logical switches, their MACs and bindings,
//     Physical_Switch rows, Physical_Port rows beyond our vlan_bindings
//     entries) is never modified or deleted.
//     The one exception: when one of our logical switches is removed, the
//     Ucast_Macs_Local/Mcast_Macs_Local rows the switch learnt in it are
//     deleted with it (referential integrity requires it).
//
// Removing an item from the plan removes exactly what it added. Ownership is
// per database, not per Physical_Switch: one agent serves every switch of a
// database; agents sharing one database (each pinned to a switch) must use
// distinct Owner values and logical switch names.
//
// Memory (release.go): a transaction is written out as it is encoded, its
// operations are let go once on the wire, and after one of releaseOps
// operations or more the agent returns the process's free memory to the OS
// (at most once a second) while the switch ingests the rows: a bulk sync's
// garbage would otherwise stay resident until the next burst.
package switchagent
