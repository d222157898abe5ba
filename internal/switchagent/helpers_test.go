package switchagent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/testenv"
)

// fakePlans is an in-memory plan source: every watch gets the current plan
// as a snapshot and then each Set as a snapshot.
type fakePlans struct {
	mu   sync.Mutex
	cur  *planner.SwitchEvent
	subs map[chan planner.SwitchEvent]bool
}

func newFakePlans() *fakePlans { return &fakePlans{subs: map[chan planner.SwitchEvent]bool{}} }

func (f *fakePlans) Set(rev int64, p planner.SwitchPlan) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = &planner.SwitchEvent{Type: planner.EventSnapshot, Revision: rev, Plan: &p}
	for ch := range f.subs {
		select {
		case <-ch: // only the latest plan matters
		default:
		}
		ch <- f.snapshot()
	}
}

// snapshot returns the current plan as an event the watcher owns.
func (f *fakePlans) snapshot() planner.SwitchEvent {
	p := f.cur.Plan.Clone()
	return planner.SwitchEvent{Type: planner.EventSnapshot, Revision: f.cur.Revision, Plan: &p}
}

func (f *fakePlans) Watch(ctx context.Context, name string, from int64) (planstream.Stream[planner.SwitchPlan, planner.SwitchDelta], error) {
	ch := make(chan planner.SwitchEvent, 1)
	f.mu.Lock()
	if f.cur != nil {
		ch <- f.snapshot()
	}
	f.subs[ch] = true
	f.mu.Unlock()
	return &fakeStream{f: f, ch: ch}, nil
}

type fakeStream struct {
	f  *fakePlans
	ch chan planner.SwitchEvent
}

func (s *fakeStream) Next(ctx context.Context) (planner.SwitchEvent, error) {
	select {
	case ev := <-s.ch:
		return ev, nil
	case <-ctx.Done():
		return planner.SwitchEvent{}, ctx.Err()
	}
}

func (s *fakeStream) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	delete(s.f.subs, s.ch)
}

// recorder is a Reporter that keeps everything it is told.
type recorder struct {
	mu       sync.Mutex
	reports  []model.SwitchReport
	statuses []model.SwitchStatus
}

func (r *recorder) ReportSwitch(_ context.Context, rep model.SwitchReport) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, rep)
	return nil
}

func (r *recorder) SetSwitchStatus(_ context.Context, s model.SwitchStatus) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, s)
	return nil
}

func (r *recorder) lastReport() (model.SwitchReport, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reports) == 0 {
		return model.SwitchReport{}, false
	}
	return r.reports[len(r.reports)-1], true
}

func (r *recorder) lastStatus() (model.SwitchStatus, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.statuses) == 0 {
		return model.SwitchStatus{}, false
	}
	return r.statuses[len(r.statuses)-1], true
}

// waitSynced waits until the agent reports revision rev applied, connected,
// with the given error text.
func (r *recorder) waitSynced(t testing.TB, rev int64, wantErr string) {
	t.Helper()
	eventually(t, 20*time.Second, func() string {
		s, ok := r.lastStatus()
		if !ok || !s.Connected || s.Revision != rev || s.Error != wantErr {
			return fmt.Sprintf("status %+v; want connected, revision %d, error %q", s, rev, wantErr)
		}
		return ""
	})
}

// eventually polls cond (which returns "" when satisfied) until deadline.
func eventually(t testing.TB, d time.Duration, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", msg)
		}
		<-tick.C
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("L2GW_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// startAgent runs an agent until the returned stop function (also run at
// cleanup) is called.
func startAgent(t testing.TB, cfg Config, plans planstream.SwitchSource, rep Reporter) (stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 500 * time.Millisecond
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = time.Second
	}
	a, err := New(cfg, plans, rep)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// newSwitch starts ovsdb-server and creates gatewayhost with ports.
func newSwitch(t testing.TB, tcp bool, ports ...string) *testenv.OVSDB {
	t.Helper()
	o := testenv.StartOVSDB(t, tcp)
	createSwitch(t, o, ports...)
	return o
}

func createSwitch(t testing.TB, o *testenv.OVSDB, ports ...string) {
	t.Helper()
	args := []string{"add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.1", "management_ips=198.51.100.1"}
	for _, p := range ports {
		args = append(args, "--", "add-port", "gatewayhost", p)
	}
	o.VTEPCtl(t, args...)
}

// rawDump is ovsdb-client's dump of every table (row UUIDs included).
func rawDump(t testing.TB, o *testenv.OVSDB) string {
	t.Helper()
	out, err := exec.Command("ovsdb-client", "dump", o.UnixTarget(), "hardware_vtep").CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client dump: %v: %s", err, out)
	}
	return string(out)
}

// state is the database as sorted lines with references resolved to names
// and IPs, so two databases holding the same rows compare equal. Duplicate
// rows show up as duplicate lines.
func state(t testing.TB, o *testenv.OVSDB) []string {
	t.Helper()
	out, err := exec.Command("ovsdb-client", "-f", "json", "dump", o.UnixTarget(), "hardware_vtep").Output()
	if err != nil {
		t.Fatalf("ovsdb-client dump: %v", err)
	}
	tables := map[string]map[string]map[string]any{} // table -> uuid -> col -> value
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var tb struct {
			Caption  string   `json:"caption"`
			Data     [][]any  `json:"data"`
			Headings []string `json:"headings"`
		}
		if err := json.Unmarshal(sc.Bytes(), &tb); err != nil {
			t.Fatalf("dump line: %v", err)
		}
		name := strings.TrimSuffix(tb.Caption, " table")
		tables[name] = map[string]map[string]any{}
		for _, row := range tb.Data {
			r := map[string]any{}
			for i, h := range tb.Headings {
				r[h] = row[i]
			}
			tables[name][uuidOf(r["_uuid"])] = r
		}
	}
	str := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	}
	lsName := func(u string) string {
		if r := tables["Logical_Switch"][u]; r != nil {
			return str(r["name"])
		}
		return "?" + u
	}
	locIP := func(u string) string {
		if r := tables["Physical_Locator"][u]; r != nil {
			return str(r["dst_ip"])
		}
		return "?" + u
	}
	setIPs := func(u string) string {
		var ips []string
		if r := tables["Physical_Locator_Set"][u]; r != nil {
			for _, l := range setOf(r["locators"]) {
				ips = append(ips, locIP(uuidOf(l)))
			}
		}
		sort.Strings(ips)
		return "[" + strings.Join(ips, " ") + "]"
	}
	var lines []string
	for _, r := range tables["Physical_Switch"] {
		lines = append(lines, fmt.Sprintf("switch %s tunnel_ips=%v", str(r["name"]), setOf(r["tunnel_ips"])))
	}
	for _, r := range tables["Logical_Switch"] {
		lines = append(lines, fmt.Sprintf("ls %s key=%v other_config=%v", str(r["name"]), setOf(r["tunnel_key"]), mapOf(r["other_config"])))
	}
	for _, r := range tables["Physical_Port"] {
		for k, v := range mapOf(r["vlan_bindings"]) {
			lines = append(lines, fmt.Sprintf("binding %s/%s %s", str(r["name"]), k, lsName(uuidOf(v))))
		}
		if len(mapOf(r["vlan_bindings"])) == 0 {
			lines = append(lines, fmt.Sprintf("port %s", str(r["name"])))
		}
	}
	for _, tn := range []string{"Ucast_Macs_Remote", "Ucast_Macs_Local"} {
		for _, r := range tables[tn] {
			lines = append(lines, fmt.Sprintf("%s %s %s ip=%s -> %s", tn, lsName(uuidOf(r["logical_switch"])), str(r["MAC"]), str(r["ipaddr"]), locIP(uuidOf(r["locator"]))))
		}
	}
	for _, tn := range []string{"Mcast_Macs_Remote", "Mcast_Macs_Local"} {
		for _, r := range tables[tn] {
			lines = append(lines, fmt.Sprintf("%s %s %s -> %s", tn, lsName(uuidOf(r["logical_switch"])), str(r["MAC"]), setIPs(uuidOf(r["locator_set"]))))
		}
	}
	for _, r := range tables["Physical_Locator"] {
		lines = append(lines, fmt.Sprintf("locator %s %s key=%v", str(r["encapsulation_type"]), str(r["dst_ip"]), setOf(r["tunnel_key"])))
	}
	for u := range tables["Physical_Locator_Set"] {
		lines = append(lines, "locator_set "+setIPs(u))
	}
	slices.Sort(lines)
	return lines
}

func uuidOf(v any) string {
	if a, ok := v.([]any); ok && len(a) == 2 && a[0] == "uuid" {
		return fmt.Sprint(a[1])
	}
	return fmt.Sprint(v)
}

func setOf(v any) []any {
	if a, ok := v.([]any); ok && len(a) == 2 && a[0] == "set" {
		if s, ok := a[1].([]any); ok {
			return s
		}
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func mapOf(v any) map[string]any {
	m := map[string]any{}
	if a, ok := v.([]any); ok && len(a) == 2 && a[0] == "map" {
		if pairs, ok := a[1].([]any); ok {
			for _, p := range pairs {
				if kv, ok := p.([]any); ok && len(kv) == 2 {
					m[fmt.Sprint(kv[0])] = kv[1]
				}
			}
		}
	}
	return m
}

// filter keeps the lines with one of the prefixes.
func filter(lines []string, prefixes ...string) []string {
	var out []string
	for _, l := range lines {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out = append(out, l)
				break
			}
		}
	}
	return out
}
