package neutronsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TokenSource gives the token sent as X-Auth-Token; renew asks for a new
// one after Neutron refused the last (401). Nil sends none (a noauth
// Neutron).
type TokenSource func(ctx context.Context, renew bool) (string, error)

// StatusError is a Neutron answer other than 200.
type StatusError struct {
	Code int
	URL  string
	Body string
}

// refusesChangedSince reports Neutron's 400 for changed_since: with
// [DEFAULT] filter_validation = true (the default) Neutron 21 does not
// count it among the valid filters.
func refusesChangedSince(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code == http.StatusBadRequest && strings.Contains(se.Body, "changed_since")
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("neutron: GET %s: %d %s", e.URL, e.Code, e.Body)
}

// client reads Neutron's API (openstack.md section 1).
type client struct {
	base  string // http://HOST:9696, no trailing slash
	http  *http.Client
	token TokenSource
	limit int
	count func() // counts a request (metrics); may be nil
	// date is the Date header of the last answer: Neutron's clock, whose
	// updated_at stamps changed_since compares. Owned by the poller.
	date time.Time
}

// timeLayout is how Neutron writes created_at/updated_at and reads
// changed_since (one-second resolution, UTC).
const timeLayout = "2006-01-02T15:04:05Z"

// neutronTime parses Neutron's timestamps ("2026-12-03T10:00:00Z"; older
// releases leave out the zone).
type neutronTime struct{ time.Time }

func (t *neutronTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil //nolint:nilerr // null or empty: unset
	}
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if v, err := time.Parse(l, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("neutron time %q", s)
}

type wireSegment struct {
	NetworkType    string `json:"provider:network_type"`
	SegmentationID *int   `json:"provider:segmentation_id"`
}

type wireNetwork struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	TenantID     string        `json:"tenant_id"`
	ProjectID    string        `json:"project_id"`
	AdminStateUp bool          `json:"admin_state_up"`
	Shared       bool          `json:"shared"`
	MTU          int           `json:"mtu"`
	NetworkType  string        `json:"provider:network_type"`
	SegID        *int          `json:"provider:segmentation_id"`
	Segments     []wireSegment `json:"segments"`
	Revision     int64         `json:"revision_number"`
	CreatedAt    neutronTime   `json:"created_at"`
	UpdatedAt    neutronTime   `json:"updated_at"`
}

type wireFixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type wirePair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address"`
}

// wireRev is an item of a revision scan.
type wireRev struct {
	ID       string `json:"id"`
	Revision int64  `json:"revision_number"`
}

type wirePort struct {
	ID           string        `json:"id"`
	Name         string        `json:"name"`
	NetworkID    string        `json:"network_id"`
	TenantID     string        `json:"tenant_id"`
	ProjectID    string        `json:"project_id"`
	MACAddress   string        `json:"mac_address"`
	FixedIPs     []wireFixedIP `json:"fixed_ips"`
	Pairs        []wirePair    `json:"allowed_address_pairs"`
	HostID       string        `json:"binding:host_id"`
	DeviceOwner  string        `json:"device_owner"`
	DeviceID     string        `json:"device_id"`
	AdminStateUp bool          `json:"admin_state_up"`
	Status       string        `json:"status"`
	Revision     int64         `json:"revision_number"`
	CreatedAt    neutronTime   `json:"created_at"`
	UpdatedAt    neutronTime   `json:"updated_at"`
}

type wireAgent struct {
	ID             string         `json:"id"`
	AgentType      string         `json:"agent_type"`
	Host           string         `json:"host"`
	Alive          bool           `json:"alive"`
	AdminStateUp   bool           `json:"admin_state_up"`
	StartedAt      neutronTime    `json:"started_at"`
	CreatedAt      neutronTime    `json:"created_at"`
	HeartbeatAt    neutronTime    `json:"heartbeat_timestamp"`
	Configurations map[string]any `json:"configurations"`
}

var (
	networkFields = []string{"id", "name", "tenant_id", "project_id", "admin_state_up", "shared", "mtu",
		"provider:network_type", "provider:segmentation_id", "segments", "revision_number", "created_at", "updated_at"}
	portFields = []string{"id", "name", "network_id", "tenant_id", "project_id", "mac_address", "fixed_ips",
		"allowed_address_pairs", "binding:host_id", "device_owner", "device_id", "admin_state_up", "status",
		"revision_number", "created_at", "updated_at"}
	revFields   = []string{"id", "revision_number"}
	agentFields = []string{"id", "agent_type", "host", "alive", "admin_state_up", "started_at", "created_at",
		"heartbeat_timestamp", "configurations"}
)

// list reads a whole collection page by page (limit + marker, by id),
// narrowed by filter (changed_since, id=…) when not nil.
func list[T any](ctx context.Context, c *client, coll string, fields []string, filter url.Values, id func(T) string) ([]T, error) {
	var out []T
	marker := ""
	for {
		q := url.Values{"fields": fields}
		for k, v := range filter {
			q[k] = v
		}
		if c.limit > 0 {
			q.Set("limit", strconv.Itoa(c.limit))
			q.Set("sort_key", "id")
			q.Set("sort_dir", "asc")
			if marker != "" {
				q.Set("marker", marker)
			}
		}
		var page map[string]json.RawMessage
		if err := c.get(ctx, "/v2.0/"+coll+"?"+q.Encode(), &page); err != nil {
			return nil, err
		}
		var items []T
		if err := json.Unmarshal(page[strings.ReplaceAll(coll, "-", "_")], &items); err != nil {
			return nil, fmt.Errorf("neutron: decode %s: %w", coll, err)
		}
		out = append(out, items...)
		if c.limit <= 0 || len(items) < c.limit {
			return out, nil
		}
		marker = id(items[len(items)-1])
	}
}

func (c *client) get(ctx context.Context, path string, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/json")
		if c.token != nil {
			tok, err := c.token(ctx, attempt > 0)
			if err != nil {
				return fmt.Errorf("neutron: token: %w", err)
			}
			req.Header.Set("X-Auth-Token", tok)
		}
		if c.count != nil {
			c.count()
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return fmt.Errorf("neutron: %w", err)
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token != nil && attempt == 0 {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) //nolint:errcheck // draining for reuse
			resp.Body.Close()
			continue
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			c.date = d.UTC()
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return &StatusError{Code: resp.StatusCode, URL: path, Body: strings.TrimSpace(string(b))}
		}
		err = json.NewDecoder(resp.Body).Decode(out)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("neutron: decode %s: %w", path, err)
		}
		return nil
	}
}
