package ui_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// chromiumPath is Debian's chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

// liveWithin is how soon the page must show a change without a reload.
const liveWithin = 2 * time.Second

// TestStatusPageBrowser loads /ui/ of a real `l2gw server` in a headless
// Chromium on a phone-sized viewport, with a real `l2gw switch-agent` on a
// real ovsdb-server: the seed workflow (gateway gw1 on gatewayhost
// port1+port2, connected to net1 on VLAN 100) appears and reaches in_sync,
// killing the switch agent shows the switch disconnected within
// liveWithin, and it recovers when the agent comes back; all pushed by the
// server, the page is never reloaded.
func TestStatusPageBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs l2gw processes and a browser")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.Missing(t, "chromium (Debian package chromium): "+err.Error())
	}
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.1",
		"--", "add-port", "gatewayhost", "port1", "--", "add-port", "gatewayhost", "port2")
	bin := testenv.BuildL2GW(t)
	_, url := testenv.StartServer(t, bin, "--data-dir", filepath.Join(t.TempDir(), "state"))
	agentArgs := []string{"switch-agent", "--server", url, "--switch", o.UnixTarget(), "--probe-interval", "1s"}
	agent := testenv.StartL2GW(t, "switch-agent", bin, agentArgs...)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.2"}); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, ctx)
	shots := t.TempDir()
	if d := os.Getenv("L2GW_UI_SCREENSHOTS"); d != "" {
		shots = d // keep them to look at
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(t, filepath.Join(shots, "failure.png"))
		}
	})
	b.run(t, "load the page", chromedp.Navigate(url+"/ui/"))
	// A marker a reload would lose.
	b.run(t, "mark the page", chromedp.Evaluate[chromedp.Void](`window.l2gwMarker = 42`))
	b.wait(t, "the page is live and shows the switch connected", 30*time.Second,
		`document.querySelector('#live[data-live="live"]') && document.querySelector('#switches [data-switch="gatewayhost"][data-connected="true"]')`)

	// The hosts section shows the host, whose agent never ran.
	b.wait(t, "the hosts section shows compute1", liveWithin, `document.querySelector('#hosts [data-host="compute1"][data-alive="false"]')`)
	if h := b.text(t, `#hosts [data-host="compute1"]`); !strings.Contains(h, "compute1") || !strings.Contains(h, "VTEP 192.0.2.2") || !strings.Contains(h, "agent not running") {
		t.Errorf("host card = %q; want compute1, its VTEP 192.0.2.2 and its agent not running", h)
	}

	// The seed: gateway and connection, through the API.
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}, {Name: "port2"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	if err != nil {
		t.Fatal(err)
	}
	sel := fmt.Sprintf(`#connections [data-connection=%q]`, conn.ID)
	start := time.Now()
	b.wait(t, "the connection appears", liveWithin, fmt.Sprintf(`document.querySelector(%q)`, sel))
	t.Logf("connection shown %v after its creation", time.Since(start).Round(time.Millisecond))
	b.wait(t, "the connection is in sync", 30*time.Second,
		fmt.Sprintf(`document.querySelector(%q)`, sel+`[data-state="in_sync"] [data-switch="gatewayhost"][data-state="in_sync"]`))
	text := b.text(t, sel)
	for _, want := range []string{"net1 ↔ gw1", "gatewayhost", "port1 VLAN 100", "port2 VLAN 100", "in sync"} {
		if !strings.Contains(text, want) {
			t.Errorf("connection card = %q; want it to contain %q", text, want)
		}
	}

	// The switch agent dies: the switch shows disconnected, pushed.
	agent.Kill(t)
	start = time.Now()
	b.wait(t, "the switch shows disconnected", liveWithin,
		`document.querySelector('#switches [data-switch="gatewayhost"][data-connected="false"]') && document.querySelector('#problems-section:not([hidden])')`)
	t.Logf("switch shown disconnected %v after the agent was killed", time.Since(start).Round(time.Millisecond))
	if p := b.text(t, "#problems"); !strings.Contains(p, "gatewayhost is disconnected") || !strings.Contains(p, "switch agent disconnected from the server") {
		t.Errorf("problems = %q; want the switch disconnected and why", p)
	}

	b.screenshot(t, filepath.Join(shots, "disconnected.png"))

	// It comes back.
	testenv.StartL2GW(t, "switch-agent (restarted)", bin, agentArgs...)
	b.wait(t, "the switch shows connected again and the connection in sync", 30*time.Second,
		`document.querySelector('#switches [data-switch="gatewayhost"][data-connected="true"]') && document.querySelector('#problems-section[hidden]') && `+
			fmt.Sprintf(`document.querySelector(%q)`, sel+`[data-state="in_sync"]`))

	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`window.l2gwMarker`)); err != nil || got != 42 {
		t.Errorf("window.l2gwMarker = %d, %v; want 42 (the page must not reload)", got, err)
	}
	// Pushed, not polled: the page fetched its files, one snapshot and
	// one event stream (plus a reconnect or two at most).
	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`performance.getEntriesByType('resource').length`)); err != nil || got > 8 {
		t.Errorf("resources fetched = %d, %v; want at most 8 (no polling)", got, err)
	}
	// Usable on a phone: nothing wider than the screen.
	if got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]`)); err != nil || len(got) != 3 || got[0] > got[1] {
		t.Errorf("page width, viewport width, window width = %v, %v; want the page no wider than the viewport", got, err)
	}
	b.screenshot(t, filepath.Join(shots, "final.png"))
}

// browser is a headless Chromium tab.
type browser struct {
	ctx context.Context // a chromedp context: its tab
}

// startBrowser starts Chromium with a phone-sized viewport (375×812); it
// stops at cleanup.
func startBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(375, 812),
	}
	actx, acancel := chromedp.NewExecAllocator(context.WithoutCancel(ctx), opts...)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(func(string, ...any) {}))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(bctx, 10*time.Second)
		defer ccancel()
		_ = chromedp.Cancel(cctx)
		bcancel()
		acancel()
	})
	// The first action starts the browser; no timeout on it (that would
	// bound the browser's life).
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2))); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{ctx: bctx}
}

func (b *browser) run(t *testing.T, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wait polls a JavaScript condition in the page until it is truthy.
func (b *browser) wait(t *testing.T, what string, timeout time.Duration, cond string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		if errors.Is(err, chromedp.ErrPollingTimeout) {
			t.Fatalf("%s: not within %v; page says:\n%s", what, timeout, b.text(t, "main"))
		}
		t.Fatalf("%s: %v", what, err)
	}
}

// text is the visible text of the first element matching sel.
func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)))
	if err != nil {
		t.Errorf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot saves the whole page as PNG in path.
func (b *browser) screenshot(t *testing.T, path string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}
