package agentwire

import (
	"net/url"
	"strconv"
)

// # Leases
//
// Several agents may serve one switch (an HA pair) or, by mistake, one
// host; exactly one holds its lease and acts, the others stand by
// (internal/store lease.go). POST SwitchLeasePath / HostLeasePath with a
// LeaseRequest acquires the lease (Epoch 0) or renews the one held (Epoch
// set): 200 with a LeaseResponse, or 409 (NeutronError LeaseHeld, its
// message naming the holding agent; LeaseLost for a renewal of a lease
// taken over). DELETE with the
// query agent, instance and epoch releases it (204).

// SwitchLeasePath is the lease of a switch.
func SwitchLeasePath(name string) string {
	return Prefix + "/switches/" + url.PathEscape(name) + "/lease"
}

// HostLeasePath is the lease of a host.
func HostLeasePath(name string) string {
	return Prefix + "/hosts/" + url.PathEscape(name) + "/lease"
}

// LeaseRequest asks for a lease, or its renewal when Epoch is set.
type LeaseRequest struct {
	Agent    string `json:"agent"`
	Instance string `json:"instance"`
	Epoch    int64  `json:"epoch,omitempty"`
	// DurationMS is the lease's duration the agent asks for: its lease
	// period, which the server bounds.
	DurationMS int64 `json:"duration_ms"`
}

// Lease is a lease as the server answers it. ExpiresInMS is relative,
// so the agent's and the server's clocks need not agree.
type Lease struct {
	Name        string `json:"name"`
	Agent       string `json:"agent"`
	Epoch       int64  `json:"epoch"`
	ExpiresInMS int64  `json:"expires_in_ms"`
	DurationMS  int64  `json:"duration_ms"`
}

// LeaseResponse is the body of a 200 lease answer.
type LeaseResponse struct {
	Lease Lease `json:"lease"`
}

// LeaseReleaseQuery is the query of a release.
func LeaseReleaseQuery(agent, instance string, epoch int64) url.Values {
	return url.Values{"agent": {agent}, "instance": {instance}, "epoch": {strconv.FormatInt(epoch, 10)}}
}
