package neutron

import "net/url"

// Base is the prefix of every versioned API path.
const Base = "/v2.0"

// Resource paths (collections; members are Path + "/" + id).
const (
	PathGateways    = Base + "/l2-gateways"
	PathConnections = Base + "/l2-gateway-connections"
	PathNetworks    = Base + "/networks"
	PathPorts       = Base + "/ports"
	PathHosts       = Base + "/hosts"
	PathSwitches    = Base + "/switches"
	PathLocalMACs   = Base + "/local-macs"
	PathExtensions  = Base + "/extensions"
)

// Envelope keys: the member key wraps one object ({"l2_gateway": {...}}),
// the collection key a list ({"l2_gateways": [...]}).
const (
	KeyGateway        = "l2_gateway"
	KeyGateways       = "l2_gateways"
	KeyConnection     = "l2_gateway_connection"
	KeyConnections    = "l2_gateway_connections"
	KeyNetwork        = "network"
	KeyNetworks       = "networks"
	KeyPort           = "port"
	KeyPorts          = "ports"
	KeyHost           = "host"
	KeyHosts          = "hosts"
	KeySwitch         = "switch"
	KeySwitches       = "switches"
	KeyLocalMAC       = "local_mac"
	KeyLocalMACs      = "local_macs"
	KeyExtension      = "extension"
	KeyExtensions     = "extensions"
	KeyNeutronError   = "NeutronError"
	LinksSuffix       = "_links" // e.g. "l2_gateways_links" on paged lists
	ExtensionGateway  = "l2-gateway"
	ExtensionConnects = "l2-gateway-connection"
)

// Resource names one API resource: its collection path and envelope keys.
type Resource struct {
	Path       string
	Member     string
	Collection string
}

// The resources of the API.
var (
	Gateways    = Resource{PathGateways, KeyGateway, KeyGateways}
	Connections = Resource{PathConnections, KeyConnection, KeyConnections}
	Networks    = Resource{PathNetworks, KeyNetwork, KeyNetworks}
	Ports       = Resource{PathPorts, KeyPort, KeyPorts}
	Hosts       = Resource{PathHosts, KeyHost, KeyHosts}
	Switches    = Resource{PathSwitches, KeySwitch, KeySwitches}
	LocalMACs   = Resource{PathLocalMACs, KeyLocalMAC, KeyLocalMACs}
)

// MemberPath is the path of one object of the resource, id escaped.
func (r Resource) MemberPath(id string) string { return r.Path + "/" + url.PathEscape(id) }
