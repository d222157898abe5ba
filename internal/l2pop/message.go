package l2pop

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Topic is the l2pop topic the agents consume (neutron_lib.agent.topics
// L2POPULATION + UPDATE).
const Topic = "q-agent-notifier-l2population-update"

// FanoutExchange is the exchange of casts to every agent on Topic
// (oslo.messaging's rabbit driver: "<topic>_fanout", type fanout).
const FanoutExchange = Topic + "_fanout"

// Methods of the agents' L2populationRpcCallBackMixin.
const (
	MethodAdd    = "add_fdb_entries"
	MethodRemove = "remove_fdb_entries"
)

// FDB is the fdb_entries argument: per network id its VNI and per tunnel
// IP its [MAC, IP] pairs.
type FDB map[string]NetworkEntries

// MarshalJSON writes the entries in Neutron's form: {"<net>":
// {"segment_id": VNI, "network_type": "vxlan", "ports": {"<ip>":
// [["mac", "ip"], ...]}}}.
func (f FDB) MarshalJSON() ([]byte, error) {
	type net struct {
		SegmentID   int                    `json:"segment_id"`
		NetworkType string                 `json:"network_type"`
		Ports       map[string][][2]string `json:"ports"`
	}
	out := make(map[string]net, len(f))
	for id, n := range f {
		ports := make(map[string][][2]string, len(n.Ports))
		for ip, es := range n.Ports {
			l := make([][2]string, 0, len(es))
			for _, e := range es {
				l = append(l, [2]string{e.MAC, e.IP})
			}
			ports[ip] = l
		}
		out[id] = net{SegmentID: n.VNI, NetworkType: "vxlan", Ports: ports}
	}
	return json.Marshal(out)
}

// timestampLayout is oslo.context's "%Y-%m-%d %H:%M:%S.%f".
const timestampLayout = "2006-01-02 15:04:05.000000"

// castBody returns the AMQP body of an oslo.messaging cast of method with
// fdb_entries: the version 2.0 envelope around the inner message as a
// string. A cast carries no _msg_id or _reply_q. The context is an admin
// one: _context_is_admin must be a boolean (null makes Neutron's context
// run a policy check) and the timestamp must parse in oslo's layout.
func castBody(method string, fdb FDB, now time.Time) ([]byte, error) {
	inner := map[string]any{
		"method":                method,
		"args":                  map[string]any{"fdb_entries": fdb},
		"version":               "1.0",
		"_unique_id":            hexUUID(),
		"_context_is_admin":     true,
		"_context_roles":        []string{"admin"},
		"_context_request_id":   "req-" + uuid.NewString(),
		"_context_timestamp":    now.UTC().Format(timestampLayout),
		"_context_user_id":      nil,
		"_context_project_id":   nil,
		"_context_tenant_id":    nil,
		"_context_user_name":    "l2gw",
		"_context_read_deleted": "no",
	}
	b, err := json.Marshal(inner)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	return json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(b)})
}

func hexUUID() string {
	u := uuid.New()
	const hex = "0123456789abcdef"
	b := make([]byte, 32)
	for i, c := range u {
		b[2*i], b[2*i+1] = hex[c>>4], hex[c&15]
	}
	return string(b)
}
