package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
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
