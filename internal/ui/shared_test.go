package ui_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/ui"
)

// TestEventsShared opens 50 event streams on a real `l2gw server` and
// makes changes through its API: each change reaches every stream within
// a second, and the server reads the topology a few times per change, not
// once per stream (l2gw_ui_topology_reads_total on its /metrics).
func TestEventsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an l2gw server")
	}
	bin := testenv.BuildL2GW(t)
	_, url := testenv.StartServer(t, bin, "--data-dir", filepath.Join(t.TempDir(), "state"))
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	const viewers, changes = 50, 5
	streams := make([]*stream, viewers)
	for i := range streams {
		streams[i] = openStream(t, t.Context(), url)
		streams[i].next(t, 5*time.Second, "first snapshot", func(ui.Topology) bool { return true })
	}
	before := scrape(t, url, "l2gw_ui_topology_reads_total")
	if got := scrape(t, url, "l2gw_ui_event_streams"); got != viewers {
		t.Errorf("l2gw_ui_event_streams = %v; want %d", got, viewers)
	}
	start := time.Now()
	var slowest time.Duration
	for i := range changes {
		name := fmt.Sprintf("net%d", i)
		if _, err := c.CreateNetwork(t.Context(), neutron.NetworkCreate{Name: name, NetworkType: "vxlan", SegmentationID: 1000 + i}); err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		for _, s := range streams {
			s.next(t, time.Until(at.Add(time.Second)), name+" on every stream within 1s", func(top ui.Topology) bool {
				return len(top.Networks) == i+1 && slices.ContainsFunc(top.Networks, func(n ui.Network) bool { return n.Name == name })
			})
		}
		slowest = max(slowest, time.Since(at))
	}
	elapsed := time.Since(start)
	reads := scrape(t, url, "l2gw_ui_topology_reads_total") - before
	t.Logf("%d changes seen by %d streams, the last stream %v after its change at worst; %v topology reads in %v",
		changes, viewers, slowest.Round(time.Millisecond), reads, elapsed.Round(time.Millisecond))
	// A read per change (two when one lands during a read), one per second
	// of the safety re-read, and one of slack; per-stream reads would be
	// at least viewers × changes.
	if limit := float64(2*changes + int(elapsed/time.Second) + 2); reads > limit {
		t.Errorf("%v topology reads for %d changes and %d streams; want at most %v (not one per stream)", reads, changes, viewers, limit)
	}
}

// scrape returns the value of the unlabelled metric name on url/metrics.
func scrape(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %s, %v", resp.Status, err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s on /metrics", name)
	return 0
}
