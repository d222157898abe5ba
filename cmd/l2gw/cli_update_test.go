package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestCLIConcurrentAddInterface runs N `l2gw l2-gateway-update
// --add-interface` at once against one gateway on the real server: every
// interface lands (the CLI's read-modify-write is conditional on the
// revision it read and redone on 412), and every command exits 0.
func TestCLIConcurrentAddInterface(t *testing.T) {
	const n = 8
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	sw := model.Switch{Name: "tor1", TunnelIPs: []string{"192.0.2.100"}, Connected: true}
	want := []string{"port0"}
	sw.Ports = append(sw.Ports, model.SwitchPort{Name: "port0"})
	for i := range n {
		p := fmt.Sprintf("port%d", i+1)
		sw.Ports = append(sw.Ports, model.SwitchPort{Name: p})
		want = append(want, p)
	}
	if err := st.ReportSwitch(ctx, model.SwitchReport{Switch: sw}); err != nil {
		t.Fatalf("ReportSwitch: %v", err)
	}
	srv := httptest.NewServer(api.New(st, api.Config{}))
	t.Cleanup(srv.Close)
	url := srv.URL

	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=tor1,interface_names=port0")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = runCLI(t, url, "l2-gateway-update", "gw1", "--add-interface", fmt.Sprintf("port%d", i+1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("l2-gateway-update gw1 --add-interface port%d = %v", i+1, err)
		}
	}
	gw := cliJSON[neutron.Gateway](t, url, "l2-gateway-show", "gw1")
	var got []string
	for _, ifc := range gw.Devices[0].Interfaces {
		got = append(got, ifc.Name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("interfaces after %d concurrent --add-interface = %v; want %v", n, got, want)
	}
	if gw.RevisionNumber != 1+n {
		t.Errorf("revision_number = %d; want %d (one per update)", gw.RevisionNumber, 1+n)
	}

	// --remove-interface goes the same way.
	for i := range n {
		wg.Go(func() {
			_, errs[i] = runCLI(t, url, "l2-gateway-update", "gw1", "--remove-interface", fmt.Sprintf("port%d", i+1))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("l2-gateway-update gw1 --remove-interface port%d = %v", i+1, err)
		}
	}
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-show", "gw1")
	if len(gw.Devices[0].Interfaces) != 1 || gw.Devices[0].Interfaces[0].Name != "port0" {
		t.Errorf("interfaces after concurrent --remove-interface = %+v; want port0", gw.Devices[0].Interfaces)
	}
}

// TestCLIEditInterfaces: --add-interface and --remove-interface are the
// server's member actions: a new device is added, an interface present
// with the same VLANs is left as it is and with other VLANs refused, a
// device's last interface takes the device with it.
func TestCLIEditInterfaces(t *testing.T) {
	url := startAPI(t)
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1:100")
	names := func(gw neutron.Gateway) map[string][]string {
		out := map[string][]string{}
		for _, d := range gw.Devices {
			out[d.DeviceName] = []string{}
			for _, i := range d.Interfaces {
				out[d.DeviceName] = append(out[d.DeviceName], i.Name+":"+strings.Join(i.SegmentationID, ","))
			}
		}
		return out
	}
	gw := cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--add-interface", "port2:101,102")
	if d := cmp.Diff(map[string][]string{"gatewayhost": {"port1:100", "port2:101,102"}}, names(gw)); d != "" || gw.RevisionNumber != 2 {
		t.Errorf("--add-interface port2 (-want +got):\n%s revision %d; want 2", d, gw.RevisionNumber)
	}
	// Again: nothing to do, no new revision.
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--add-interface", "port2:102,101")
	if gw.RevisionNumber != 2 {
		t.Errorf("repeated --add-interface: revision %d; want 2", gw.RevisionNumber)
	}
	_, err := runCLI(t, url, "l2-gateway-update", "gw1", "--add-interface", "port2:200")
	wantAPIError(t, err, http.StatusConflict, "L2GatewayInterfaceExists")
	// Removing and adding in one command changes the VLANs.
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--remove-interface", "port2", "--add-interface", "port2:200")
	if d := cmp.Diff(map[string][]string{"gatewayhost": {"port1:100", "port2:200"}}, names(gw)); d != "" {
		t.Errorf("--remove-interface port2 --add-interface port2:200 (-want +got):\n%s", d)
	}
	// A device the gateway lacks is added; then --device is needed.
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--device", "name=tor2", "--add-interface", "eth1:300")
	if d := cmp.Diff(map[string][]string{"gatewayhost": {"port1:100", "port2:200"}, "tor2": {"eth1:300"}}, names(gw)); d != "" {
		t.Errorf("--device name=tor2 --add-interface eth1:300 (-want +got):\n%s", d)
	}
	if _, err := runCLI(t, url, "l2-gateway-update", "gw1", "--add-interface", "port3:5"); err == nil || !strings.Contains(err.Error(), "has 2 devices") {
		t.Errorf("--add-interface without --device on 2 devices = %v; want an error naming the 2 devices", err)
	}
	_, err = runCLI(t, url, "l2-gateway-update", "gw1", "--device", "name=tor2", "--remove-interface", "eth9")
	wantAPIError(t, err, http.StatusNotFound, "L2GatewayInterfaceNotFound")
	// A rename and an edit in one command: the rename is a PUT sent first.
	gw = cliJSON[neutron.Gateway](t, url, "l2-gateway-update", "gw1", "--name", "gw1b", "--device", "name=tor2", "--remove-interface", "eth1")
	if d := cmp.Diff(map[string][]string{"gatewayhost": {"port1:100", "port2:200"}}, names(gw)); d != "" || gw.Name != "gw1b" {
		t.Errorf("--name gw1b --remove-interface eth1 = %s (-want +got):\n%s", gw.Name, d)
	}
}

// TestCLIConcurrentAddInterfaceProcesses is the trial on real
// processes: 30 times, two `l2gw l2-gateway-update --add-interface`
// processes at once against a real `l2gw server` process; both exit 0 and
// both interfaces are there every time.
func TestCLIConcurrentAddInterfaceProcesses(t *testing.T) {
	const trials = 30
	bin := testenv.BuildL2GW(t)
	_, url := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--access-log=false")
	ctx := t.Context()
	lost := 0
	for trial := range trials {
		gwName := fmt.Sprintf("gw%d", trial)
		mustCLI(t, url, "l2-gateway-create", gwName, "--device", "name=tor1,interface_names=port0")
		var wg sync.WaitGroup
		outs := make([][]byte, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				cmd := exec.CommandContext(ctx, bin, "--url", url, "l2-gateway-update", gwName, "--add-interface", fmt.Sprintf("port%d", i+1))
				outs[i], errs[i] = cmd.CombinedOutput()
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d: l2gw l2-gateway-update %s --add-interface port%d = %v\n%s", trial, gwName, i+1, err, outs[i])
			}
		}
		gw := cliJSON[neutron.Gateway](t, url, "l2-gateway-show", gwName)
		var got []string
		for _, ifc := range gw.Devices[0].Interfaces {
			got = append(got, ifc.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, []string{"port0", "port1", "port2"}) {
			lost++
			t.Errorf("trial %d: interfaces = %v; want port0, port1, port2", trial, got)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d trials lost an interface", lost, trials)
	}
}
