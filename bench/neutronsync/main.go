// Command neutronsync measures l2gw's OpenStack mode against a real
// neutron-server (a throw-away one: it creates -ports ports that it does
// not delete; start one with ../shared/original/start.sh, ANCHOR_L2GW=0):
//
//   - initial sync: -ports Neutron ports (created with the bulk POST
//     /v2.0/ports) mirrored by a freshly started `l2gw server --inventory
//     neutron`, from its start until its status counts them all;
//   - churn: a bound, owned port created in Neutron (its POST answered) →
//     its MAC on the switch (a real ovsdb-server, polled every 10 ms),
//     p50/p99, against --neutron-poll-interval;
//   - idle load: the requests l2gw sends Neutron per minute when nothing
//     changes (its l2gw_neutronsync_requests_total).
//
// Usage: go run ./bench/neutronsync -neutron http://127.0.0.1:19796
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/testenv"
)

func main() {
	neutronURL := flag.String("neutron", "", "neutron-server endpoint (noauth), required")
	ports := flag.Int("ports", 10000, "ports for the initial sync")
	churn := flag.Int("churn", 30, "ports created one by one for the latency")
	poll := flag.Duration("poll", 2*time.Second, "--neutron-poll-interval")
	idle := flag.Duration("idle", time.Minute, "idle window for the request rate")
	db := flag.String("neutron-db", "", "Neutron's PostgreSQL (postgres://neutron:neutron@127.0.0.1:PORT/neutron): seed the -ports ports there, "+
		"as Neutron stores them (standardattributes, ports, ml2_port_bindings), instead of the bulk POST, which creates about one port a second on a loaded 2-core machine")
	flag.Parse()
	if *neutronURL == "" {
		log.Fatal("-neutron is required")
	}
	if err := run(context.Background(), *neutronURL, *db, *ports, *churn, *poll, *idle); err != nil {
		log.Fatal(err)
	}
}

type bench struct {
	neutron string
	hc      *http.Client
}

func (b *bench) do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s %s", method, url, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func run(ctx context.Context, neutronURL, neutronDB string, nPorts, nChurn int, poll, idle time.Duration) error {
	b := &bench{neutron: strings.TrimRight(neutronURL, "/"), hc: &http.Client{Timeout: 10 * time.Minute}}
	tmp, err := os.MkdirTemp("", "neutronsync-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The switch: a real ovsdb-server with the hardware_vtep schema.
	sw, err := vtepwatch.StartSwitch(ctx, tmp, "switch", "benchsw", "192.0.2.1", "port1")
	if err != nil {
		return err
	}
	defer sw.Stop()

	// The Neutron side: a network and nPorts bound, owned ports, past the
	// default quota (50 ports) of the noauth project.
	if err := b.do(ctx, http.MethodPut, b.neutron+"/v2.0/quotas/fake_project_id", map[string]any{"quota": map[string]any{"port": -1, "network": -1}}, nil); err != nil {
		return err
	}
	name := fmt.Sprintf("bench-%d", time.Now().Unix())
	var net struct {
		Network struct{ ID string } `json:"network"`
	}
	if err := b.do(ctx, http.MethodPost, b.neutron+"/v2.0/networks", map[string]any{"network": map[string]any{"name": name}}, &net); err != nil {
		return err
	}
	netID := net.Network.ID
	t0 := time.Now()
	how := "bulk POST"
	if neutronDB != "" {
		how = "rows in Neutron's database"
		if err := seedSQL(ctx, neutronDB, netID, name, nPorts); err != nil {
			return err
		}
	}
	const batch = 500
	for done := 0; neutronDB == "" && done < nPorts; done += batch {
		var ps []map[string]any
		for i := done; i < min(done+batch, nPorts); i++ {
			ps = append(ps, map[string]any{"network_id": netID, "name": fmt.Sprintf("%s-%d", name, i),
				"binding:host_id": []string{"compute1", "compute2"}[i%2], "device_owner": "compute:nova"})
		}
		if err := b.do(ctx, http.MethodPost, b.neutron+"/v2.0/ports", map[string]any{"ports": ps}, nil); err != nil {
			return err
		}
	}
	fmt.Printf("neutron: %d bound, owned ports created (%s) in %.1f s\n", nPorts, how, time.Since(t0).Seconds())

	bin, err := testenv.BuildL2GWInto(tmp)
	if err != nil {
		return err
	}
	logPath := filepath.Join(tmp, "server.log")
	start := time.Now()
	srv, err := testenv.RunServer(ctx, bin, &http.Client{Timeout: 5 * time.Second}, testenv.ProcConfig{Log: logPath},
		"--data-dir", filepath.Join(tmp, "state"), "--inventory", "neutron", "--neutron-url", b.neutron,
		"--neutron-poll-interval", poll.String(), "--switch", sw.Target(), "--access-log=false")
	if err != nil {
		return err
	}
	defer srv.Stop()
	// Initial sync: until the status counts every port (the status counts
	// ports at full syncs, and the first poll is one). Neutron may hold
	// more ports than this run made (earlier runs): all are mirrored.
	mirrored := 0
	for {
		inv, err := inventory(ctx, b.hc, srv.URL)
		if err != nil {
			return err
		}
		if n, _ := inv["ports"].(float64); int(n) >= nPorts {
			mirrored = int(n)
			break
		}
		if time.Since(start) > 10*time.Minute {
			return errors.New("initial sync: no full sync within 10 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	initial := time.Since(start)
	fmt.Printf("initial sync: %d ports (all of Neutron's) mirrored %.2f s after the server's start (server up in %.2f s)\n", mirrored, initial.Seconds(), srv.Started.Seconds())

	// Connect the network to the switch, then create ports one by one.
	var gw struct {
		Gateway struct{ ID string } `json:"l2_gateway"`
	}
	for {
		err := b.do(ctx, http.MethodPost, srv.URL+"/v2.0/l2-gateways", map[string]any{"l2_gateway": map[string]any{"name": "gw",
			"devices": []any{map[string]any{"device_name": "benchsw", "interfaces": []any{map[string]any{"name": "port1"}}}}}}, &gw)
		if err == nil {
			break
		}
		if time.Since(start) > 11*time.Minute {
			return err
		}
		time.Sleep(100 * time.Millisecond) // the switch agent's first report
	}
	if err := b.do(ctx, http.MethodPost, srv.URL+"/v2.0/l2-gateway-connections", map[string]any{"l2_gateway_connection": map[string]any{
		"l2_gateway_id": gw.Gateway.ID, "network_id": netID, "segmentation_id": 100}}, nil); err != nil {
		return err
	}
	t1 := time.Now()
	for len(remoteMACs(ctx, sw.Target(), netID)) < nPorts {
		if time.Since(t1) > 10*time.Minute {
			return errors.New("connection: the switch never got every MAC")
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("connection create → %d MACs on the switch: %.2f s\n", nPorts, time.Since(t1).Seconds())

	var lat []time.Duration
	for i := range nChurn {
		var p struct {
			Port struct {
				MAC string `json:"mac_address"`
			} `json:"port"`
		}
		if err := b.do(ctx, http.MethodPost, b.neutron+"/v2.0/ports", map[string]any{"port": map[string]any{"network_id": netID,
			"name": fmt.Sprintf("%s-churn-%d", name, i), "binding:host_id": "compute1", "device_owner": "compute:nova"}}, &p); err != nil {
			return err
		}
		created := time.Now()
		for {
			if _, ok := remoteMACs(ctx, sw.Target(), netID)[p.Port.MAC]; ok {
				break
			}
			if time.Since(created) > time.Minute {
				return fmt.Errorf("port %s never reached the switch", p.Port.MAC)
			}
			time.Sleep(10 * time.Millisecond)
		}
		lat = append(lat, time.Since(created))
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Printf("port create in Neutron → row on the switch (poll interval %s, %d ports): p50 %d ms, p99 %d ms, max %d ms\n",
		poll, len(lat), pct(0.5).Milliseconds(), pct(0.99).Milliseconds(), lat[len(lat)-1].Milliseconds())

	r0, err := requests(ctx, b.hc, srv.URL)
	if err != nil {
		return err
	}
	time.Sleep(idle)
	r1, err := requests(ctx, b.hc, srv.URL)
	if err != nil {
		return err
	}
	fmt.Printf("idle: %.0f requests/min to Neutron (poll interval %s)\n", (r1-r0)/idle.Minutes(), poll)
	return nil
}

// seedSQL writes n ports of network netID into Neutron's database as
// Neutron itself stores them (a standard attribute row, the port, its ML2
// binding on compute1 or compute2), with MACs fa:16:3f:… that Neutron's
// own fa:16:3e:… never collide with. Neutron's API then lists them like
// any other port: what l2gw reads is the same.
func seedSQL(ctx context.Context, dsn, netID, name string, n int) error {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `WITH s AS (
		INSERT INTO standardattributes (resource_type, created_at, updated_at, revision_number)
		SELECT 'ports', now() at time zone 'utc', now() at time zone 'utc', 1 FROM generate_series(1, $1) RETURNING id)
		INSERT INTO ports (project_id, id, name, network_id, mac_address, admin_state_up, status, device_id, device_owner, standard_attr_id)
		SELECT 'fake_project_id', gen_random_uuid()::text, $2 || '-' || id, $3,
			'fa:16:3f:' || lpad(to_hex((id>>16)&255),2,'0') || ':' || lpad(to_hex((id>>8)&255),2,'0') || ':' || lpad(to_hex(id&255),2,'0'),
			true, 'ACTIVE', '', 'compute:nova', id FROM s`, n, name, netID); err != nil {
		return fmt.Errorf("seed ports: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ml2_port_bindings (port_id, host, vif_type, vnic_type, profile, vif_details, status)
		SELECT id, CASE WHEN standard_attr_id % 2 = 0 THEN 'compute1' ELSE 'compute2' END, 'ovs', 'normal', '', '', 'ACTIVE'
		FROM ports WHERE network_id = $1 AND name LIKE $2`, netID, name+"-%"); err != nil {
		return fmt.Errorf("seed port bindings: %w", err)
	}
	return tx.Commit()
}

func inventory(ctx context.Context, hc *http.Client, base string) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/l2gw/v1/status", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Server struct {
			Inventory map[string]any `json:"inventory"`
		} `json:"server"`
	}
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st.Server.Inventory, err
}

func requests(ctx context.Context, hc *http.Client, base string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "l2gw_neutronsync_requests_total "); ok {
			var n float64
			_, err := fmt.Sscan(v, &n)
			return n, err
		}
	}
	return 0, errors.New("no l2gw_neutronsync_requests_total in /metrics")
}

// remoteMACs reads the MACs of the switch's Ucast_Macs_Remote for ls.
func remoteMACs(ctx context.Context, target, ls string) map[string]bool {
	out, err := exec.CommandContext(ctx, "vtep-ctl", "--db="+target, "list-remote-macs", ls).Output()
	got := map[string]bool{}
	if err != nil {
		return got
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "mcast-mac-remote") {
			break
		}
		if mac, _, ok := strings.Cut(strings.TrimSpace(line), " -> "); ok {
			got[mac] = true
		}
	}
	return got
}
