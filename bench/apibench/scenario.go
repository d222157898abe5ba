package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/neutron"
)

// scenario is one workload of the table.
type scenario struct {
	name string
	unit string // "req/s" or "pairs/s"
	// orig holds the original's figures at C=1, 8, 32 (rate, p99 in ms;
	// p99 0 when not published).
	orig map[int][2]float64
	// target is the minimum rate at C=32.
	target float64
	// setup prepares the server for up to maxC workers and returns the op.
	setup func(ctx context.Context, a *apiClient, maxC int) (op, error)
}

// Request kinds, the rows of the latency table.
const (
	kindList      = "GET /l2-gateways"
	kindGwCreate  = "POST /l2-gateways"
	kindGwDelete  = "DELETE /l2-gateways/{id}"
	kindConCreate = "POST /l2-gateway-connections"
	kindConDelete = "DELETE /l2-gateway-connections/{id}"
)

var scenarios = []scenario{
	{
		name: "list", unit: "req/s", target: 4400,
		orig:  map[int][2]float64{1: {4.6, 268}, 8: {10.1, 1200}, 32: {8.7, 7000}},
		setup: setupList,
	},
	{
		name: "gateway create+delete", unit: "pairs/s", target: 1000,
		orig:  map[int][2]float64{1: {32.7, 0}, 8: {58.1, 0}, 32: {52.6, 0}},
		setup: setupGateways,
	},
	{
		name: "connection create+delete", unit: "pairs/s", target: 460,
		orig:  map[int][2]float64{1: {6.0, 0}, 8: {5.8, 0}, 32: {2.3, 0}},
		setup: setupConnections,
	},
}

// listGateways is how many gateways the list scenario lists.
const listGateways = 100

func gatewayBody(name, device string, ports ...string) []byte {
	ifs := make([]string, len(ports))
	for i, p := range ports {
		ifs[i] = fmt.Sprintf(`{"name":%q}`, p)
	}
	return fmt.Appendf(nil, `{"l2_gateway":{"name":%q,"devices":[{"device_name":%q,"interfaces":[%s]}]}}`,
		name, device, strings.Join(ifs, ","))
}

// setupList creates 100 gateways (one device, one interface each) and
// checks the list shows exactly them.
func setupList(ctx context.Context, a *apiClient, _ int) (op, error) {
	for i := range listGateways {
		body := gatewayBody(fmt.Sprintf("list-%03d", i), fmt.Sprintf("list-sw-%03d", i), "eth1")
		if _, err := a.create(ctx, neutron.PathGateways, neutron.KeyGateway, body); err != nil {
			return nil, err
		}
	}
	code, b, err := a.do(ctx, http.MethodGet, neutron.PathGateways, nil, true)
	if err != nil {
		return nil, err
	}
	if n := strings.Count(string(b), `"device_name"`); code != http.StatusOK || n != listGateways {
		return nil, fmt.Errorf("GET %s: status %d with %d gateways; want 200 with %d", neutron.PathGateways, code, n, listGateways)
	}
	return func(ctx context.Context, _, _, _ int, r *recorder) bool {
		return r.timed(kindList, func() error {
			code, b, err := a.do(ctx, http.MethodGet, neutron.PathGateways, nil, false)
			if err == nil && code != http.StatusOK {
				err = fmt.Errorf("GET %s: %d %s", neutron.PathGateways, code, b)
			}
			return err
		})
	}, nil
}

// setupGateways: each worker creates then deletes a gateway of its own.
func setupGateways(_ context.Context, a *apiClient, maxC int) (op, error) {
	bodies := make([][]byte, maxC)
	for w := range bodies {
		bodies[w] = gatewayBody(fmt.Sprintf("bench-gw-%02d", w), fmt.Sprintf("bench-gw-sw-%02d", w), "eth1")
	}
	return func(ctx context.Context, w, _, _ int, r *recorder) bool {
		var id string
		return r.timed(kindGwCreate, func() (err error) {
			id, err = a.create(ctx, neutron.PathGateways, neutron.KeyGateway, bodies[w])
			return err
		}) && r.timed(kindGwDelete, func() error {
			return a.delete(ctx, neutron.PathGateways+"/"+id)
		})
	}, nil
}

// benchSwitch is the switch the connection scenario's gateway sits on, and
// benchPorts its ports. Connection create needs a switch known from an
// agent's report, so the setup reports it as a switch agent does.
const benchSwitch = "bench-sw"

var benchPorts = []string{"p1", "p2", "p3", "p4"}

// setupConnections reports the bench switch, creates one gateway on it (all
// its ports, no VLANs) and one network per worker. Each worker connects its
// network with a new VLAN from its own slice of 1..4094, then disconnects.
func setupConnections(ctx context.Context, a *apiClient, maxC int) (op, error) {
	rep := agentwire.SwitchReport{Switch: agentwire.Switch{Name: benchSwitch, TunnelIPs: []string{"192.0.2.1"}}}
	for _, p := range benchPorts {
		rep.Switch.Ports = append(rep.Switch.Ports, agentwire.SwitchPort{Name: p})
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if code, b, err := a.do(ctx, http.MethodPost, agentwire.SwitchReportPath(benchSwitch), body, true); err != nil {
		return nil, err
	} else if code != http.StatusNoContent {
		return nil, fmt.Errorf("switch report: %d %s", code, b)
	}
	gw, err := a.create(ctx, neutron.PathGateways, neutron.KeyGateway, gatewayBody("bench-shared", benchSwitch, benchPorts...))
	if err != nil {
		return nil, err
	}
	nets := make([]string, maxC)
	for w := range nets {
		body := fmt.Appendf(nil, `{"network":{"name":"bench-net-%02d","provider:network_type":"vxlan"}}`, w)
		if nets[w], err = a.create(ctx, neutron.PathNetworks, neutron.KeyNetwork, body); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context, w, c, iter int, r *recorder) bool {
		span := 4094 / c
		vlan := 1 + w*span + iter%span
		body := fmt.Appendf(nil, `{"l2_gateway_connection":{"l2_gateway_id":%q,"network_id":%q,"segmentation_id":"%d"}}`, gw, nets[w], vlan)
		var id string
		return r.timed(kindConCreate, func() (err error) {
			id, err = a.create(ctx, neutron.PathConnections, neutron.KeyConnection, body)
			return err
		}) && r.timed(kindConDelete, func() error {
			return a.delete(ctx, neutron.PathConnections+"/"+id)
		})
	}, nil
}
