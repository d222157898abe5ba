package agentwire

import "github.com/l2gw/l2gw/internal/neutron"

// L2PopStatus is the l2pop part of a connection's status (present only
// when the server publishes l2pop casts, l2gw server --transport-url):
// per host running ports of the connected network, whether the entries
// the network needs were sent there and at which store revision, or why
// not. State sums the hosts up as ConnectionStatus does; Reason says why
// there is no host to send to.
type L2PopStatus struct {
	State  string      `json:"state"`
	Reason string      `json:"reason"`
	Broker L2PopBroker `json:"broker"`
	Hosts  []L2PopHost `json:"hosts"`
}

// L2PopBroker is the RabbitMQ connection l2pop publishes on.
type L2PopBroker struct {
	// TransportURL is the configured URL without its passwords.
	TransportURL string `json:"transport_url"`
	// Broker is the host:port connected to, empty while not connected.
	Broker    string `json:"broker"`
	Connected bool   `json:"connected"`
	// Error is why the last attempt to connect or publish failed.
	Error string `json:"error"`
	// Since is when the connection was made or lost.
	Since neutron.Time `json:"since"`
	// LastPublish is when the broker last confirmed casts.
	LastPublish neutron.Time `json:"last_publish"`
	// Revision is the store revision of the last computed entries.
	Revision int64 `json:"revision"`
}

// L2PopHost is one compute host as l2pop reaches it: in_sync with the
// store revision (SentRevision) and time at which the broker confirmed
// the network's entries for it (fanout or targeted at the host), pending
// while not sent yet, error with the reason it cannot be sent (the host's
// agent has l2_population = false, is dead, lacks vxlan, there is no L2
// agent on the host, RabbitMQ is unreachable).
type L2PopHost struct {
	Host         string       `json:"host"`
	State        string       `json:"state"`
	Reason       string       `json:"reason"`
	Agent        string       `json:"agent"`
	SentRevision int64        `json:"sent_revision"`
	SentAt       neutron.Time `json:"sent_at"`
}

// L2PopSystem is the l2pop part of the system status: the broker and
// every host running ports of connected networks, each with its worst
// state over those networks.
type L2PopSystem struct {
	Broker   L2PopBroker `json:"broker"`
	Networks int         `json:"networks"`
	Hosts    []L2PopHost `json:"hosts"`
}
