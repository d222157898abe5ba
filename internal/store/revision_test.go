package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
)

func revp(v int64) *int64 { return &v }

// testGatewayRevision: a gateway's revision_number is 1 at creation and one
// more per update; an update with IfRevision is applied only at that
// revision (ErrPrecondition otherwise, nothing changed), also when
// concurrent updates race for it.
func testGatewayRevision(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := mustGateway(t, s, "g", dev("sw1", iface("p1")))
	if g.RevisionNumber != 1 {
		t.Errorf("CreateGateway revision = %d; want 1", g.RevisionNumber)
	}
	name := "g2"
	got, err := s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{Name: &name, IfRevision: revp(1)})
	if err != nil || got.RevisionNumber != 2 || got.Name != "g2" {
		t.Fatalf("UpdateGateway(IfRevision 1) = %+v, %v; want g2 at revision 2", got, err)
	}
	r := rev(t, s)
	_, err = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{
		Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: []model.Interface{iface("p9")}}}, IfRevision: revp(1)})
	wantFault(t, "UpdateGateway(stale IfRevision)", err, model.ErrPrecondition, "RevisionNumberConstraintFailed",
		"Constrained to 1, but current revision is 2")
	if got, _ := s.GetGateway(ctx, g.ID); got.RevisionNumber != 2 || got.Devices[0].Interfaces[0].Name != "p1" {
		t.Errorf("GetGateway after a refused update = %+v; want revision 2, p1", got)
	}
	if rev(t, s) != r {
		t.Errorf("a refused update bumped the store revision")
	}
	// Lists and snapshots carry the revision.
	if l, _ := s.ListGateways(ctx, store.Query{}); len(l) != 1 || l[0].RevisionNumber != 2 {
		t.Errorf("ListGateways = %+v; want revision 2", l)
	}
	if snap, _ := s.Snapshot(ctx); len(snap.Gateways) != 1 || snap.Gateways[0].RevisionNumber != 2 {
		t.Errorf("Snapshot gateways = %+v; want revision 2", snap.Gateways)
	}

	// Eight writers all read revision 2 and add their interface: exactly
	// one wins.
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ifs := []model.Interface{iface("p1"), iface("q" + string(rune('a'+i)))}
			_, errs[i] = s.UpdateGateway(ctx, g.ID, model.GatewayUpdate{
				Devices: []model.DeviceUpdate{{Name: "sw1", Interfaces: ifs}}, IfRevision: revp(2)})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		default:
			wantFault(t, "concurrent UpdateGateway(IfRevision 2)", err, model.ErrPrecondition, "RevisionNumberConstraintFailed", "Constrained to 2, but current revision is 3")
		}
	}
	if got, _ := s.GetGateway(ctx, g.ID); won != 1 || got.RevisionNumber != 3 {
		t.Errorf("%d of %d concurrent conditional updates won, revision %d; want 1 and 3", won, n, got.RevisionNumber)
	}
}
