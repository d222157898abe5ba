package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/model"
)

// TestUpdateGatewayUnbridged: a connection without a default segmentation
// id on a gateway whose interfaces mix VLANs and none can no longer be
// created, but one stored before that check may exist. A gateway update
// that leaves such a connection with interfaces it cannot bind is refused
// and changes nothing. (Inside the package: the connection row is written
// as an older release would have, which the API no longer allows.)
func TestUpdateGatewayUnbridged(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	for name, ports := range map[string][]string{"gatewayhost": {"port3", "port4"}, "tor2": {"eth1", "eth2"}} {
		rep := model.SwitchReport{Switch: model.Switch{Name: name}}
		for _, p := range ports {
			rep.Switch.Ports = append(rep.Switch.Ports, model.SwitchPort{Name: p})
		}
		if err := s.ReportSwitch(ctx, rep); err != nil {
			t.Fatal(err)
		}
	}
	gw, err := s.CreateGateway(ctx, model.Gateway{Name: "gwm", Devices: []model.Device{
		{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port3"}}},
		{Name: "tor2", Interfaces: []model.Interface{{Name: "eth1", SegmentationIDs: []int{10}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := s.CreateNetworks(ctx, []model.Network{{Name: "net1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateConnection(ctx, model.Connection{GatewayID: gw.ID, NetworkID: nets[0].ID})
	if f := (*model.Fault)(nil); !errors.As(err, &f) || f.Type != "InvalidInput" {
		t.Fatalf("CreateConnection(mixed gateway, no default) = %v; want InvalidInput", err)
	}
	const legacy = "11111111-1111-1111-1111-111111111111"
	if _, err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `INSERT INTO connections (id, gateway_id, network_id, tenant_id, segmentation_id) VALUES ($1, $2, $3, '', NULL)`,
			legacy, gw.ID, nets[0].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateGateway(ctx, gw.ID, model.GatewayUpdate{Devices: []model.DeviceUpdate{
		{Name: "gatewayhost", Interfaces: []model.Interface{{Name: "port3"}, {Name: "port4"}}},
	}})
	want := "Invalid input for operation: after this update, interfaces without a segmentation id would stay unbridged: " +
		"2 interfaces: gatewayhost/port3, gatewayhost/port4. L2 gateway " + gw.ID +
		" has connections without a default segmentation_id (it has segmentation ids on other interfaces): 1 connection: " + legacy + "; delete them first."
	if f := (*model.Fault)(nil); !errors.As(err, &f) || f.Type != "InvalidInput" || f.Message != want {
		t.Errorf("UpdateGateway(adds an unbound interface) = %v;\nwant InvalidInput %q", err, want)
	}
	if after, _ := s.Revision(ctx); after != before {
		t.Errorf("Revision after a refused update = %d; want %d", after, before)
	}
	got, err := s.GetGateway(ctx, gw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(gw, got); d != "" {
		t.Errorf("gateway after a refused update (-want +got):\n%s", d)
	}
}
