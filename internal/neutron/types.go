package neutron

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// TimeFormat is Neutron's timestamp format (UTC, seconds).
const TimeFormat = "2006-01-02T15:04:05Z"

// Time is a timestamp in Neutron's format; the zero time is JSON null.
type Time struct{ time.Time }

// MarshalJSON writes the time as "2006-01-02T15:04:05Z" or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(strconv.Quote(t.UTC().Format(TimeFormat))), nil
}

// UnmarshalJSON reads null, "" or an RFC 3339 time (with or without zone).
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, f := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999"} {
		if v, err := time.Parse(f, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("timestamp %q: not RFC 3339", s)
}

// SegmentationID is a connection's default segmentation id as shown by
// networking-l2gw: an integer, or "" when none was given. Decoding also accepts
// a numeric string (the original's create response echoes the request string).
type SegmentationID struct {
	ID    int
	Valid bool
}

// VLAN returns a set SegmentationID.
func VLAN(id int) SegmentationID { return SegmentationID{ID: id, Valid: true} }

// MarshalJSON writes the integer, or "" when not set.
func (s SegmentationID) MarshalJSON() ([]byte, error) {
	if !s.Valid {
		return []byte(`""`), nil
	}
	return []byte(strconv.Itoa(s.ID)), nil
}

// UnmarshalJSON reads an integer, a numeric string, "" or null.
func (s *SegmentationID) UnmarshalJSON(b []byte) error {
	*s = SegmentationID{}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return fmt.Errorf("segmentation_id: %w", err)
		}
		if str == "" {
			return nil
		}
		v, err := strconv.Atoi(str)
		if err != nil {
			return fmt.Errorf("segmentation_id %q: not an integer", str)
		}
		*s = VLAN(v)
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("segmentation_id: %w", err)
	}
	*s = VLAN(v)
	return nil
}

// Gateway is an l2_gateway as returned by the API: exactly these keys.
// RevisionNumber is l2gw's addition (Neutron's standard attribute, for
// If-Match: revision_number=N), always >= 1 from l2gw; networking-l2gw has
// none, which decodes as 0 and is left out when re-encoded (the CLI's
// output of the original's gateways).
type Gateway struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Devices        []Device `json:"devices"`
	TenantID       string   `json:"tenant_id"`
	RevisionNumber int64    `json:"revision_number,omitempty"`
}

// Device is a gateway device in a response.
type Device struct {
	DeviceName string      `json:"device_name"`
	ID         string      `json:"id"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is a device interface in a response; SegmentationID is always a
// (possibly empty) list of decimal strings.
type Interface struct {
	Name           string   `json:"name"`
	SegmentationID []string `json:"segmentation_id"`
}

// GatewayCreate is the body of POST /v2.0/l2-gateways (inside KeyGateway).
type GatewayCreate struct {
	Name     string          `json:"name,omitempty"`
	Devices  []DeviceRequest `json:"devices"`
	TenantID string          `json:"tenant_id,omitempty"`
}

// GatewayUpdate is the body of PUT /v2.0/l2-gateways/{id}; absent fields are unchanged.
type GatewayUpdate struct {
	Name    *string         `json:"name,omitempty"`
	Devices []DeviceRequest `json:"devices,omitempty"`
}

// DeviceRequest is a device in a create or update body.
type DeviceRequest struct {
	DeviceName string             `json:"device_name"`
	Interfaces []InterfaceRequest `json:"interfaces"`
}

// InterfaceRequest is an interface in a create or update body; the CLI sends
// segmentation ids as strings.
type InterfaceRequest struct {
	Name           string   `json:"name"`
	SegmentationID []string `json:"segmentation_id,omitempty"`
}

// Connection is an l2_gateway_connection as returned by show and list.
type Connection struct {
	ID             string         `json:"id"`
	NetworkID      string         `json:"network_id"`
	L2GatewayID    string         `json:"l2_gateway_id"`
	TenantID       string         `json:"tenant_id"`
	SegmentationID SegmentationID `json:"segmentation_id"`
}

// ConnectionCreate is the body of POST /v2.0/l2-gateway-connections. The
// default segmentation id must be sent as a JSON string.
type ConnectionCreate struct {
	L2GatewayID    string `json:"l2_gateway_id"`
	NetworkID      string `json:"network_id"`
	SegmentationID string `json:"segmentation_id,omitempty"`
	TenantID       string `json:"tenant_id,omitempty"`
}

// Network is a Neutron network.
type Network struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	TenantID        string   `json:"tenant_id"`
	ProjectID       string   `json:"project_id"`
	AdminStateUp    bool     `json:"admin_state_up"`
	Status          string   `json:"status"`
	Subnets         []string `json:"subnets"`
	Shared          bool     `json:"shared"`
	MTU             int      `json:"mtu"`
	NetworkType     string   `json:"provider:network_type"`
	PhysicalNetwork *string  `json:"provider:physical_network"`
	SegmentationID  int      `json:"provider:segmentation_id"`
	CreatedAt       Time     `json:"created_at"`
	UpdatedAt       Time     `json:"updated_at"`
}

// NetworkCreate is the body of POST /v2.0/networks. A zero SegmentationID
// lets the server allocate a VNI.
type NetworkCreate struct {
	Name           string `json:"name,omitempty"`
	TenantID       string `json:"tenant_id,omitempty"`
	AdminStateUp   *bool  `json:"admin_state_up,omitempty"`
	Shared         *bool  `json:"shared,omitempty"`
	MTU            int    `json:"mtu,omitempty"`
	NetworkType    string `json:"provider:network_type,omitempty"`
	SegmentationID int    `json:"provider:segmentation_id,omitempty"`
}

// NetworkUpdate is the body of PUT /v2.0/networks/{id}.
type NetworkUpdate struct {
	Name         *string `json:"name,omitempty"`
	AdminStateUp *bool   `json:"admin_state_up,omitempty"`
}

// FixedIP is an address of a port.
type FixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

// AddressPair is an allowed address pair of a port.
type AddressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address"`
}

// BindingProfile is a port's binding:profile; l2gw uses interface_name (the
// host-side device the host agent attaches to the network's bridge).
type BindingProfile struct {
	InterfaceName string `json:"interface_name,omitempty"`
}

// Port is a Neutron port.
type Port struct {
	ID                  string         `json:"id"`
	Name                string         `json:"name"`
	NetworkID           string         `json:"network_id"`
	TenantID            string         `json:"tenant_id"`
	ProjectID           string         `json:"project_id"`
	MACAddress          string         `json:"mac_address"`
	FixedIPs            []FixedIP      `json:"fixed_ips"`
	HostID              string         `json:"binding:host_id"`
	Profile             BindingProfile `json:"binding:profile"`
	DeviceOwner         string         `json:"device_owner"`
	DeviceID            string         `json:"device_id"`
	AdminStateUp        bool           `json:"admin_state_up"`
	Status              string         `json:"status"`
	AllowedAddressPairs []AddressPair  `json:"allowed_address_pairs"`
	CreatedAt           Time           `json:"created_at"`
	UpdatedAt           Time           `json:"updated_at"`
}

// PortCreate is the body of POST /v2.0/ports.
type PortCreate struct {
	NetworkID           string          `json:"network_id"`
	Name                string          `json:"name,omitempty"`
	TenantID            string          `json:"tenant_id,omitempty"`
	MACAddress          string          `json:"mac_address,omitempty"`
	FixedIPs            []FixedIP       `json:"fixed_ips,omitempty"`
	HostID              string          `json:"binding:host_id,omitempty"`
	Profile             *BindingProfile `json:"binding:profile,omitempty"`
	DeviceOwner         string          `json:"device_owner,omitempty"`
	DeviceID            string          `json:"device_id,omitempty"`
	AdminStateUp        *bool           `json:"admin_state_up,omitempty"`
	AllowedAddressPairs []AddressPair   `json:"allowed_address_pairs,omitempty"`
}

// PortUpdate is the body of PUT /v2.0/ports/{id}; nil fields are unchanged.
type PortUpdate struct {
	Name                *string         `json:"name,omitempty"`
	FixedIPs            *[]FixedIP      `json:"fixed_ips,omitempty"`
	HostID              *string         `json:"binding:host_id,omitempty"`
	Profile             *BindingProfile `json:"binding:profile,omitempty"`
	DeviceOwner         *string         `json:"device_owner,omitempty"`
	DeviceID            *string         `json:"device_id,omitempty"`
	AdminStateUp        *bool           `json:"admin_state_up,omitempty"`
	AllowedAddressPairs *[]AddressPair  `json:"allowed_address_pairs,omitempty"`
}

// Host is a compute host and its VTEP IP.
type Host struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	VTEPIP        string `json:"vtep_ip"`
	Description   string `json:"description"`
	Alive         bool   `json:"alive"`
	LastHeartbeat Time   `json:"last_heartbeat"`
	CreatedAt     Time   `json:"created_at"`
}

// HostCreate is the body of POST /v2.0/hosts.
type HostCreate struct {
	Name        string `json:"name"`
	VTEPIP      string `json:"vtep_ip"`
	Description string `json:"description,omitempty"`
}

// HostUpdate is the body of PUT /v2.0/hosts/{id}.
type HostUpdate struct {
	VTEPIP      *string `json:"vtep_ip,omitempty"`
	Description *string `json:"description,omitempty"`
}

// SwitchPort is a physical port of a switch (a Physical_Port).
type SwitchPort struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	FaultStatus []string `json:"fault_status"`
}

// SwitchInventory is a hardware_vtep Physical_Switch with its ports, as
// its agent reads it from the switch's database: the body of a switch
// report (internal/agentwire) and the reported part of a Switch.
type SwitchInventory struct {
	Name          string       `json:"name"`
	Description   string       `json:"description"`
	TunnelIPs     []string     `json:"tunnel_ips"`
	ManagementIPs []string     `json:"management_ips"`
	FaultStatus   []string     `json:"fault_status"`
	Ports         []SwitchPort `json:"ports"`
}

// Switch is a hardware_vtep Physical_Switch as reported by its agent.
type Switch struct {
	ID string `json:"id"`
	SwitchInventory
	Connected bool   `json:"connected"`
	LastSeen  Time   `json:"last_seen"`
	LastSync  Time   `json:"last_sync"`
	SyncError string `json:"sync_error"`
	// Agent is the switch agent holding the switch's lease, the one that
	// programs it (empty while none holds it); Epoch is that lease's epoch,
	// which increases at every takeover (0: never leased).
	Agent string `json:"agent"`
	Epoch int64  `json:"epoch"`
}

// LocalMAC is a MAC learned behind a switch port.
type LocalMAC struct {
	Switch     string `json:"switch"`
	NetworkID  string `json:"network_id"`
	MACAddress string `json:"mac_address"`
	IPAddress  string `json:"ip_address"`
	LocatorIP  string `json:"locator_ip"`
}

// Link is a paging or self link.
type Link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// Extension is an entry of GET /v2.0/extensions.
type Extension struct {
	Name        string `json:"name"`
	Alias       string `json:"alias"`
	Description string `json:"description"`
	Updated     string `json:"updated"`
	Links       []Link `json:"links"`
}

// Error is the content of a NeutronError body.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Detail  string `json:"detail"`
}

// Error returns "Type: Message".
func (e *Error) Error() string { return e.Type + ": " + e.Message }

// ErrorBody is a Neutron error response: {"NeutronError": {...}}.
type ErrorBody struct {
	NeutronError Error `json:"NeutronError"`
}
