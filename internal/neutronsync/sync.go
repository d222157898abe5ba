// Package neutronsync mirrors, read-only, the inventory l2gw needs from
// Neutron into the store: networks (their VXLAN VNI), ports (MACs, IPs,
// allowed address pairs, binding host, status) and hosts (the VTEP IP of
// their Open vSwitch or Linux bridge agent). It lists everything at start
// and periodically (which catches deletions), and polls with
// changed_since in between (openstack.md section 1).
package neutronsync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/l2gw/l2gw/internal/metrics"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

// Defaults of Config.
const (
	DefaultPollInterval   = 2 * time.Second
	DefaultResyncInterval = 10 * time.Minute
	DefaultPageSize       = 1000
	// DefaultOverlap is how far back each changed_since poll reaches
	// before the newest updated_at seen: changed_since has a one-second
	// resolution and a row may commit after a later-stamped one.
	DefaultOverlap = 3 * time.Second
)

// Store is what the mirror needs of the store.
type Store interface {
	ApplyMirror(ctx context.Context, m store.Mirror) (store.MirrorResult, error)
	ListNetworks(ctx context.Context, q store.Query) ([]model.Network, error)
	ListPorts(ctx context.Context, q store.Query) ([]model.Port, error)
	ListHosts(ctx context.Context, q store.Query) ([]model.Host, error)
}

// Config configures a Syncer; URL is required.
type Config struct {
	URL string // Neutron's endpoint, http://HOST:9696
	// Token authenticates to Neutron (Keystone service credentials); nil
	// sends no token (a noauth Neutron).
	Token TokenSource
	// HTTPClient makes the requests; nil means one with a 30 s timeout.
	HTTPClient *http.Client
	// PollInterval, ResyncInterval, PageSize and Overlap: zero means the
	// Default* constants.
	PollInterval   time.Duration
	ResyncInterval time.Duration
	PageSize       int
	Overlap        time.Duration
	Logger         *slog.Logger // nil discards
	// Registerer receives the mirror's metrics; nil: not registered.
	Registerer prometheus.Registerer
	Now        func() time.Time // nil means time.Now
}

// States of Status.State.
const (
	StateStarting    = "starting"    // no full sync yet
	StateOK          = "ok"          // the last poll succeeded
	StateUnreachable = "unreachable" // the last poll failed; the mirror is kept as it was
)

// Status is what an operator sees of the mirror.
type Status struct {
	URL   string
	State string
	// Error is the last failure while State is unreachable.
	Error string
	// UnreachableSince is when the polls started failing (zero when OK).
	UnreachableSince time.Time
	// LastSync is the last successful poll, LastFullSync the last
	// successful full list.
	LastSync, LastFullSync time.Time
	Networks, Ports, Hosts int
	// Problem is what keeps l2gw from reaching the compute hosts whatever
	// the connections (an OVN-only cloud); empty when none.
	Problem string
}

// String is the one line `l2gw status` shows.
func (s Status) String() string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	switch s.State {
	case StateUnreachable:
		return fmt.Sprintf("neutron %s: unreachable since %s, last sync %s (mirror kept: %d networks, %d ports, %d hosts): %s",
			s.URL, ts(s.UnreachableSince), ts(s.LastSync), s.Networks, s.Ports, s.Hosts, s.Error)
	case StateOK:
		line := fmt.Sprintf("neutron %s: ok, last sync %s, last full sync %s (%d networks, %d ports, %d hosts)",
			s.URL, ts(s.LastSync), ts(s.LastFullSync), s.Networks, s.Ports, s.Hosts)
		if s.Problem != "" {
			line += "; ERROR: " + s.Problem
		}
		return line
	}
	return fmt.Sprintf("neutron %s: %s", s.URL, s.State)
}

// Syncer mirrors Neutron's inventory into a store.
type Syncer struct {
	st  Store
	cfg Config
	c   *client
	log *slog.Logger

	// scan is set once Neutron refused changed_since: changes are then
	// found by comparing revision numbers with netRevs and portRevs (what
	// the last polls read, by id). Owned by Run's goroutine.
	scan              bool
	netRevs, portRevs map[string]int64
	// hint asks Run to poll now (Hint).
	hint chan struct{}

	polls  *prometheus.CounterVec
	reqs   prometheus.Counter
	mu     sync.Mutex
	status Status
}

// New returns a Syncer; Run starts it.
func New(st Store, cfg Config) (*Syncer, error) {
	if cfg.URL == "" {
		return nil, errors.New("neutronsync: no Neutron URL")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Overlap <= 0 {
		cfg.Overlap = DefaultOverlap
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	s := &Syncer{st: st, cfg: cfg, log: cfg.Logger, netRevs: map[string]int64{}, portRevs: map[string]int64{}, hint: make(chan struct{}, 1),
		status: Status{URL: strings.TrimRight(cfg.URL, "/"), State: StateStarting}}
	s.polls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "l2gw_neutronsync_polls_total",
		Help: "Polls of Neutron by kind (full, changes) and result (ok, error).",
	}, []string{"kind", "result"})
	s.reqs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "l2gw_neutronsync_requests_total",
		Help: "HTTP requests sent to Neutron by the inventory mirror.",
	})
	if cfg.Registerer != nil {
		s.polls = metrics.Register(cfg.Registerer, s.polls)
		s.reqs = metrics.Register(cfg.Registerer, s.reqs)
	}
	s.c = &client{base: s.status.URL, http: cfg.HTTPClient, token: cfg.Token, limit: cfg.PageSize, count: s.reqs.Inc}
	return s, nil
}

// Status returns the mirror's state.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run mirrors until ctx is done: a full sync first, then a changes poll
// every PollInterval and a full sync every ResyncInterval and after any
// failure. A failure keeps the mirror as it is (nothing is deleted) and
// shows in Status.
func (s *Syncer) Run(ctx context.Context) error {
	var since time.Time // newest updated_at seen; zero: a full sync is due
	var lastFull time.Time
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.hint:
		}
		full := since.IsZero() || s.cfg.Now().Sub(lastFull) >= s.cfg.ResyncInterval
		kind := "changes"
		if full {
			kind = "full"
		}
		start := s.cfg.Now()
		next, err := s.poll(ctx, full, since)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.polls.WithLabelValues(kind, "error").Inc()
			s.failed(err)
			since = time.Time{}
		} else {
			s.polls.WithLabelValues(kind, "ok").Inc()
			since = next
			if full {
				lastFull = start
			}
		}
		t.Reset(s.cfg.PollInterval)
	}
}

// Hint asks for a poll now rather than at the next interval (a Neutron
// notification said a network or a port changed); hints that arrive
// during a poll make one more.
func (s *Syncer) Hint() {
	select {
	case s.hint <- struct{}{}:
	default:
	}
}

func (s *Syncer) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State != StateUnreachable {
		s.status.UnreachableSince = s.cfg.Now()
		s.log.Error("neutron unreachable: keeping the mirrored inventory", "url", s.status.URL, "err", err)
	}
	s.status.State, s.status.Error = StateUnreachable, err.Error()
}

// poll reads Neutron (everything when full, else what changed since the
// given updated_at, less the overlap) and applies it. It returns the
// newest updated_at seen, the next poll's base.
func (s *Syncer) poll(ctx context.Context, full bool, since time.Time) (time.Time, error) {
	var nets []wireNetwork
	var ports []wirePort
	var m store.Mirror
	var err error
	s.c.date = time.Time{}
	// started is Neutron's clock when the poll began (its first answer's
	// Date): every later change is stamped at or after it.
	var started time.Time
	switch {
	case full:
		if nets, err = list(ctx, s.c, "networks", networkFields, nil, func(n wireNetwork) string { return n.ID }); err != nil {
			return time.Time{}, err
		}
		started = s.c.date
		if ports, err = list(ctx, s.c, "ports", portFields, nil, func(p wirePort) string { return p.ID }); err != nil {
			return time.Time{}, err
		}
	case !s.scan:
		f := url.Values{"changed_since": {since.Add(-s.cfg.Overlap).UTC().Format(timeLayout)}}
		nets, err = list(ctx, s.c, "networks", networkFields, f, func(n wireNetwork) string { return n.ID })
		if refusesChangedSince(err) {
			s.log.Warn("Neutron refuses changed_since ([DEFAULT] filter_validation = true): following changes by a scan of ids and revision numbers instead; "+
				"set filter_validation = false in neutron.conf for cheaper polls", "url", s.status.URL)
			s.scan = true
			return s.poll(ctx, false, since)
		}
		if err != nil {
			return time.Time{}, err
		}
		started = s.c.date
		if ports, err = list(ctx, s.c, "ports", portFields, f, func(p wirePort) string { return p.ID }); err != nil {
			return time.Time{}, err
		}
	default:
		if nets, m.DeleteNetworks, err = scan(ctx, s.c, "networks", networkFields, s.netRevs, func(n wireNetwork) string { return n.ID }); err != nil {
			return time.Time{}, err
		}
		if ports, m.DeletePorts, err = scan(ctx, s.c, "ports", portFields, s.portRevs, func(p wirePort) string { return p.ID }); err != nil {
			return time.Time{}, err
		}
	}
	// Agents are few and have no changed_since: read them whole.
	agents, err := list(ctx, s.c, "agents", agentFields, nil, func(a wireAgent) string { return a.ID })
	if err != nil {
		return time.Time{}, err
	}
	// The next changes poll starts from the newest stamp seen, or from
	// when this one began by Neutron's clock if that is later: an idle
	// cloud is not read again and again since its last burst of changes.
	newest := later(since, started)
	if full {
		clear(s.netRevs)
		clear(s.portRevs)
	}
	for _, n := range nets {
		newest = later(newest, n.UpdatedAt.Time)
		s.netRevs[n.ID] = n.Revision
		m.Networks = append(m.Networks, store.MirroredNetwork{Network: toNetwork(n), Revision: n.Revision})
	}
	for _, id := range m.DeleteNetworks {
		delete(s.netRevs, id)
	}
	for _, id := range m.DeletePorts {
		delete(s.portRevs, id)
	}
	for _, p := range ports {
		newest = later(newest, p.UpdatedAt.Time)
		s.portRevs[p.ID] = p.Revision
		if p.DeviceOwner == "" {
			// The original acts only on ports with an owner (a VM, a
			// router, DHCP): one without is no endpoint yet.
			m.DeletePorts = append(m.DeletePorts, p.ID)
			continue
		}
		m.Ports = append(m.Ports, store.MirroredPort{Port: toPort(p), Revision: p.Revision})
	}
	m.Hosts = toHosts(agents)
	s.setProblem(cloudProblem(agents))
	stored, err := s.st.ListHosts(ctx, store.Query{})
	if err != nil {
		return time.Time{}, err
	}
	m.DeleteHosts = gone(stored, m.Hosts, func(h model.Host) string { return h.ID })
	if full {
		if err := s.fullDeletes(ctx, &m); err != nil {
			return time.Time{}, err
		}
	}
	res, err := s.st.ApplyMirror(ctx, m)
	if err != nil {
		// What the maps say was read is not stored: list all again.
		return time.Time{}, fmt.Errorf("apply mirror: %w", err)
	}
	if res.Changed > 0 {
		s.log.Info("neutron inventory mirrored", "full", full, "changed", res.Changed, "revision", res.Revision)
	}
	if err := s.succeeded(ctx, full); err != nil {
		return time.Time{}, err
	}
	if len(res.Orphans) > 0 && !full {
		// Ports of a network created between the two lists: list all again.
		s.log.Debug("ports of unknown networks: full sync next", "ports", len(res.Orphans))
		return time.Time{}, nil
	}
	if newest.IsZero() {
		// Nothing stamped yet (an empty cloud): poll from a while ago,
		// as Neutron's clock is unknown until it stamps something.
		newest = s.cfg.Now().Add(-s.cfg.ResyncInterval)
	}
	return newest, nil
}

// scanChunk is how many ids one detail request names (id=…&id=…): the URL
// stays well below common 8 KiB limits.
const scanChunk = 100

// scan finds what changed in a collection without changed_since: it lists
// ids and revision numbers only, reads in full the items that are new or
// at another revision than known, and returns the known ids now absent.
func scan[T any](ctx context.Context, c *client, coll string, fields []string, known map[string]int64, id func(T) string) ([]T, []string, error) {
	revs, err := list(ctx, c, coll, revFields, nil, func(r wireRev) string { return r.ID })
	if err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool, len(revs))
	var changed []string
	for _, r := range revs {
		seen[r.ID] = true
		if rv, ok := known[r.ID]; !ok || rv != r.Revision {
			changed = append(changed, r.ID)
		}
	}
	var deleted []string
	for k := range known {
		if !seen[k] {
			deleted = append(deleted, k)
		}
	}
	var out []T
	for start := 0; start < len(changed); start += scanChunk {
		items, err := list(ctx, c, coll, fields, url.Values{"id": changed[start:min(start+scanChunk, len(changed))]}, id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, items...)
	}
	return out, deleted, nil
}

// fullDeletes adds to m the deletion of everything stored that the full
// lists in m do not hold.
func (s *Syncer) fullDeletes(ctx context.Context, m *store.Mirror) error {
	nets, err := s.st.ListNetworks(ctx, store.Query{})
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, n := range m.Networks {
		keep[n.ID] = true
	}
	for _, n := range nets {
		if !keep[n.ID] {
			m.DeleteNetworks = append(m.DeleteNetworks, n.ID)
		}
	}
	ports, err := s.st.ListPorts(ctx, store.Query{})
	if err != nil {
		return err
	}
	clear(keep)
	for _, p := range m.Ports {
		keep[p.ID] = true
	}
	for _, p := range ports {
		if !keep[p.ID] {
			m.DeletePorts = append(m.DeletePorts, p.ID)
		}
	}
	return nil
}

func (s *Syncer) succeeded(ctx context.Context, full bool) error {
	nets, err := s.st.ListNetworks(ctx, store.Query{})
	if err != nil {
		return err
	}
	// Counting ports by listing them would cost a full read per poll:
	// count them at full syncs only.
	ports := -1
	if full {
		p, err := s.st.ListPorts(ctx, store.Query{})
		if err != nil {
			return err
		}
		ports = len(p)
	}
	hosts, err := s.st.ListHosts(ctx, store.Query{})
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State == StateUnreachable {
		s.log.Info("neutron reachable again", "url", s.status.URL, "unreachable_since", s.status.UnreachableSince)
	}
	s.status.State, s.status.Error, s.status.UnreachableSince = StateOK, "", time.Time{}
	s.status.LastSync = now
	if full {
		s.status.LastFullSync = now
		s.status.Ports = ports
	}
	s.status.Networks, s.status.Hosts = len(nets), len(hosts)
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// gone returns the ids of stored items that are not in current.
func gone[T any](stored, current []T, id func(T) string) []string {
	keep := map[string]bool{}
	for _, c := range current {
		keep[id(c)] = true
	}
	var out []string
	for _, x := range stored {
		if !keep[id(x)] {
			out = append(out, id(x))
		}
	}
	return out
}

// toNetwork maps a Neutron network. Its VNI is its own segmentation id
// when it is a VXLAN network, else that of its first VXLAN segment
// (multi-provider networks); a network with none is stored with its type
// and no VNI, which the planner does not bridge and connection create
// refuses (VxlanSegmentationIDNotFound, as the original).
func toNetwork(n wireNetwork) model.Network {
	out := model.Network{ID: n.ID, Name: n.Name, TenantID: cmp.Or(n.TenantID, n.ProjectID), AdminStateUp: n.AdminStateUp,
		Shared: n.Shared, MTU: n.MTU, CreatedAt: n.CreatedAt.Time, UpdatedAt: n.UpdatedAt.Time}
	segs := n.Segments
	if n.NetworkType != "" {
		segs = append([]wireSegment{{NetworkType: n.NetworkType, SegmentationID: n.SegID}}, segs...)
	}
	out.NetworkType = "unknown" // no provider attributes: not an admin token
	for i, sg := range segs {
		if i == 0 {
			out.NetworkType = sg.NetworkType
		}
		if sg.NetworkType == "vxlan" && sg.SegmentationID != nil {
			out.NetworkType, out.VNI = "vxlan", *sg.SegmentationID
			break
		}
	}
	if out.NetworkType != "vxlan" {
		out.VNI = 0
	}
	return out
}

func toPort(p wirePort) model.Port {
	out := model.Port{ID: p.ID, Name: p.Name, NetworkID: p.NetworkID, TenantID: cmp.Or(p.TenantID, p.ProjectID),
		MACAddress: strings.ToLower(p.MACAddress), HostID: p.HostID, DeviceOwner: p.DeviceOwner, DeviceID: p.DeviceID,
		AdminStateUp: p.AdminStateUp, Status: p.Status, CreatedAt: p.CreatedAt.Time, UpdatedAt: p.UpdatedAt.Time}
	for _, f := range p.FixedIPs {
		out.FixedIPs = append(out.FixedIPs, model.FixedIP{SubnetID: f.SubnetID, IPAddress: f.IPAddress})
	}
	for _, a := range p.Pairs {
		out.AllowedAddressPairs = append(out.AllowedAddressPairs, model.AddressPair{IPAddress: a.IPAddress, MACAddress: strings.ToLower(a.MACAddress)})
	}
	return out
}

// cloudProblem says why l2gw cannot reach any compute host of a cloud
// whose agents are these: OVN agents and no Open vSwitch or Linux bridge
// agent (OVN has no l2pop and no tunneling_ip); empty otherwise.
func cloudProblem(agents []wireAgent) string {
	ovn := false
	for _, a := range agents {
		if l2AgentTypes[a.AgentType] {
			return ""
		}
		ovn = ovn || strings.Contains(strings.ToUpper(a.AgentType), "OVN")
	}
	if !ovn {
		return ""
	}
	return "Neutron reports OVN agents and no Open vSwitch or Linux bridge agent: an OVN cloud has no l2pop, so l2gw cannot program its compute hosts"
}

// setProblem records the cloud's problem, logged when it appears.
func (s *Syncer) setProblem(p string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p != "" && p != s.status.Problem {
		s.log.Error("unsupported cloud", "problem", p)
	}
	s.status.Problem = p
}

// L2 agent types whose hosts carry VXLAN tunnels (configurations.tunneling_ip).
var l2AgentTypes = map[string]bool{"Open vSwitch agent": true, "Linux bridge agent": true}

// toHosts maps the L2 agents to hosts, one per host name (an alive agent
// first, then the most recent heartbeat).
func toHosts(agents []wireAgent) []model.Host {
	by := map[string]wireAgent{}
	var order []string
	for _, a := range agents {
		if !l2AgentTypes[a.AgentType] || a.Host == "" {
			continue
		}
		cur, ok := by[a.Host]
		if !ok {
			order = append(order, a.Host)
		}
		if !ok || (a.Alive && !cur.Alive) || (a.Alive == cur.Alive && a.HeartbeatAt.After(cur.HeartbeatAt.Time)) {
			by[a.Host] = a
		}
	}
	out := make([]model.Host, 0, len(order))
	for _, name := range order {
		a := by[name]
		ip, _ := a.Configurations["tunneling_ip"].(string)
		l2pop, _ := a.Configurations["l2_population"].(bool)
		var tunnels []string
		if tt, ok := a.Configurations["tunnel_types"].([]any); ok {
			for _, t := range tt {
				if s, ok := t.(string); ok {
					tunnels = append(tunnels, s)
				}
			}
		}
		out = append(out, model.Host{ID: a.ID, Name: a.Host, VTEPIP: ip, Description: a.AgentType,
			LastHeartbeat: a.HeartbeatAt.Time, CreatedAt: a.CreatedAt.Time,
			Agent: &model.L2Agent{Type: a.AgentType, Alive: a.Alive, StartedAt: a.StartedAt.Time, L2Population: l2pop, TunnelTypes: tunnels}})
	}
	return out
}
