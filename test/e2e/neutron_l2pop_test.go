package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/testenv"
)

// fdbCast is one add_fdb_entries / remove_fdb_entries a recording agent's
// L2populationRpcCallBackMixin took (its fdb_add / fdb_remove), cut down
// to the entries behind tunnel IP ip: network -> entries.
type fdbCast struct {
	Method  string
	Entries map[string][][2]string
}

func (c fdbCast) String() string { return fmt.Sprintf("%s %v", c.Method, c.Entries) }

// l2popAgents are real oslo.messaging RPC servers with neutron's
// L2populationRpcCallBackMixin (internal/l2pop/testdata/l2pop-receiver.py)
// subscribed as the compute hosts' OVS agents are, recording every cast.
type l2popAgents struct {
	out  string
	proc *testenv.Proc
}

func startL2PopAgents(t *testing.T, url string, hosts ...string) *l2popAgents {
	t.Helper()
	if _, err := os.Stat("/usr/lib/python3/dist-packages/neutron/plugins/ml2/drivers/l2pop/rpc_manager/l2population_rpc.py"); err != nil {
		testenv.Missing(t, "neutron's l2pop RPC mixin (package python3-neutron)")
	}
	out := filepath.Join(t.TempDir(), "received.jsonl")
	script, err := filepath.Abs("../../internal/l2pop/testdata/l2pop-receiver.py")
	if err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProc(testenv.ProcConfig{Name: "l2pop-receiver", ParentDeathSignal: 9, Grace: 10 * time.Second},
		"/usr/bin/python3", append([]string{script, url, out}, hosts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("receiver output:\n%s", p.Logs())
		}
	})
	testenv.Eventually(t, 60*time.Second, "the recording agents listen", func() (bool, string) {
		if !p.Running() {
			t.Fatalf("receiver exited: %s", p.Logs())
		}
		return strings.Contains(p.Logs(), "ready\n"), "no ready line"
	})
	return &l2popAgents{out: out, proc: p}
}

// casts returns what host received whose entries concern tunnel IP ip (the
// switch's), in order: the casts l2gw sent. Neutron's own l2pop casts the
// agents' entries (their tunneling IPs) on the same topic; they are left
// out, as is the rest of a cast.
func (a *l2popAgents) casts(t *testing.T, host, ip string) []fdbCast {
	t.Helper()
	b, err := os.ReadFile(a.out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := []fdbCast{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l struct {
			Host       string `json:"host"`
			Method     string `json:"method"`
			FDBEntries map[string]struct {
				Ports map[string][][2]string `json:"ports"`
			} `json:"fdb_entries"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("receiver line %q: %v", sc.Text(), err)
		}
		if l.Host != host {
			continue
		}
		c := fdbCast{Method: l.Method, Entries: map[string][][2]string{}}
		for net, e := range l.FDBEntries {
			if es, ok := e.Ports[ip]; ok {
				c.Entries[net] = es
			}
		}
		if len(c.Entries) > 0 {
			out = append(out, c)
		}
	}
	return out
}

// waitCasts waits until each host has received exactly want (the casts
// concerning ip, in order).
func (a *l2popAgents) waitCasts(t *testing.T, ip string, want map[string][]fdbCast, what string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, what, func() (bool, string) {
		got := map[string][]fdbCast{}
		for h := range want {
			got[h] = a.casts(t, h, ip)
		}
		if d := cmp.Diff(want, got); d != "" {
			return false, "casts (-want +got):\n" + d
		}
		return true, ""
	})
}

// deviceUp sets ports ACTIVE in Neutron the way an L2 agent does: the RPC
// call update_device_up on topic q-plugin (testdata/neutron-device-up.py,
// one long-running process).
type deviceUp struct {
	mu    sync.Mutex
	in    io.WriteCloser
	lines chan string
}

func startDeviceUp(t *testing.T, n *testenv.Neutron) *deviceUp {
	t.Helper()
	script, err := filepath.Abs("testdata/neutron-device-up.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", script, filepath.Join(n.Dir, "etc", "neutron.conf"))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &deviceUp{in: in, lines: make(chan string, 16)}
	done := make(chan struct{})
	go func() { // owned by the test: ends when the process closes stdout
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	t.Cleanup(func() {
		in.Close() // the script ends at EOF
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("neutron-device-up.py stderr:\n%s", stderr.String())
		}
	})
	select {
	case l := <-d.lines:
		if l != "ready" {
			t.Fatalf("neutron-device-up.py: %q\n%s", l, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("neutron-device-up.py not ready in 60s\n%s", stderr.String())
	}
	return d
}

// up makes port ACTIVE on host and returns once neutron-server answered.
func (d *deviceUp) up(t *testing.T, port, host string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := fmt.Fprintf(d.in, "%s %s\n", port, host); err != nil {
		t.Fatal(err)
	}
	select {
	case l, ok := <-d.lines:
		if !ok || l != "up "+port {
			t.Fatalf("update_device_up %s on %s: %q", port, host, l)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("update_device_up %s on %s: no answer in 60s", port, host)
	}
}

// restartAgent makes Neutron see host's OVS agent restart: the fake agent
// reports its state once with start_flag set, which moves the agent's
// started_at, as a real agent's first report after a restart does.
func restartAgent(t *testing.T, n *testenv.Neutron, host, ip string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", filepath.Join(n.Scripts, "fake-ovs-agent.py"), host, ip, "--l2pop")
	cmd.Env = append(os.Environ(), "NEUTRON_ANCHOR_DIR="+n.Dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fake-ovs-agent.py %s: %v\n%s", host, err, out)
	}
}

// agentStartedAt reads the started_at of host's agent from Neutron.
func agentStartedAt(t *testing.T, n *testenv.Neutron, host string) string {
	t.Helper()
	var body struct {
		Agents []struct {
			StartedAt string `json:"started_at"`
		} `json:"agents"`
	}
	getJSON(t, n.URL+"/v2.0/agents?host="+host+"&fields=started_at", &body)
	if len(body.Agents) != 1 {
		t.Fatalf("agents on %s: %+v; want one", host, body.Agents)
	}
	return body.Agents[0].StartedAt
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %s %s", url, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

// connStatus reads a connection's status from l2gw.
func connStatus(t *testing.T, base, id string) agentwire.ConnectionStatus {
	t.Helper()
	var st agentwire.ConnectionStatus
	getJSON(t, base+"/v2.0/l2-gateway-connections/"+id+"/status", &st)
	return st
}

// hostStates sums a status's hosts up as "host state reason" lines.
func hostStates(hs []agentwire.HostSync) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Host+" "+h.State+" "+h.Reason)
	}
	return out
}

// postPort creates a bound compute port straight in Neutron (faster than
// the openstack client, for the latency samples).
func postPort(t *testing.T, url, network, host, name string) osPort {
	t.Helper()
	body := fmt.Sprintf(`{"port":{"network_id":%q,"name":%q,"binding:host_id":%q,"device_owner":"compute:nova"}}`, network, name, host)
	resp, err := http.Post(url+"/v2.0/ports", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Port osPort `json:"port"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil {
		t.Fatalf("POST /v2.0/ports = %s %s", resp.Status, b)
	}
	return out.Port
}

// pollFine waits up to a minute for cond, checking every 5 ms (Eventually
// backs off to 100 ms, too coarse for the latency samples).
func pollFine(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in 1m: %s", what, why)
		}
		<-tick.C
	}
}

// percentile is the p-th percentile (nearest rank) of sorted durations.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*p+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// testNeutronL2Pop is the whole OpenStack mode with everything real: a
// private neutron-server whose two fake OVS agents (compute1, compute2)
// run with l2_population, l2gw server with --inventory neutron,
// --neutron-proxy, --transport-url on Neutron's own RabbitMQ and an
// embedded switch agent on a real ovsdb-server, and recording agents
// (neutron's L2populationRpcCallBackMixin in oslo.messaging RPC servers)
// subscribed as compute1's and compute2's agents.
func testNeutronL2Pop(t *testing.T, n *testenv.Neutron) {
	const swIP = "127.0.0.43"
	transport := "rabbit://guest:guest@127.0.0.1:" + strconv.Itoa(n.RabbitPort) + "/"
	agents := startL2PopAgents(t, transport, "compute1", "compute2")
	up := startDeviceUp(t, n)
	sw := testenv.StartOVSDB(t, false)
	sw.VTEPCtl(t, "add-ps", "gatewayhost")
	sw.VTEPCtl(t, "set", "Physical_Switch", "gatewayhost", "tunnel_ips="+swIP)
	sw.VTEPCtl(t, "add-port", "gatewayhost", "port1")
	bin := testenv.BuildL2GW(t)
	poll := 250 * time.Millisecond
	_, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--inventory", "neutron", "--neutron-url", n.URL, "--neutron-proxy",
		"--neutron-poll-interval", poll.String(), "--switch", sw.UnixTarget(), "--transport-url", transport)
	testenv.Eventually(t, 30*time.Second, "the switch agent reports gatewayhost", func() (bool, string) {
		resp, err := http.Get(base + "/v2.0/switches/gatewayhost")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	// Through l2gw's endpoint with the unchanged openstack client.
	net := osJSON[map[string]any](t, base, "network", "create", "l2pop-net")
	netID := net["id"].(string)
	vni := net["provider:segmentation_id"]
	if _, err := openstack(t, base, "subnet", "create", "l2pop-sub", "--network", "l2pop-net", "--subnet-range", "10.1.0.0/24"); err != nil {
		t.Fatal(err)
	}
	vmA := osJSON[osPort](t, base, "port", "create", "vmA", "--network", "l2pop-net", "--host", "compute1", "--device-owner", "compute:nova")
	vmB := osJSON[osPort](t, base, "port", "create", "vmB", "--network", "l2pop-net", "--host", "compute2", "--device-owner", "compute:nova")
	if _, err := openstack(t, base, "l2gw", "create", "gw-l2pop", "--device", "name=gatewayhost,interface_names=port1"); err != nil {
		t.Fatal(err)
	}
	conn := osJSON[map[string]any](t, base, "l2gw", "connection", "create", "gw-l2pop", "l2pop-net", "--default-segmentation-id", "200")
	connID, _ := conn["id"].(string)
	if connID == "" {
		connID, _ = conn["ID"].(string)
	}
	t.Logf("network %s (VNI %v), connection %s", netID, vni, connID)

	flood := [2]string{"00:00:00:00:00:00", "0.0.0.0"}
	want := map[string][]fdbCast{}
	expect := func(host string, c fdbCast) { want[host] = append(want[host], c) }
	both := func(c fdbCast) { expect("compute1", c); expect("compute2", c) }
	entries := func(es ...[2]string) map[string][][2]string { return map[string][][2]string{netID: es} }

	ok := t.Run("Connect", func(t *testing.T) {
		waitMACs(t, sw, netID, map[string]string{vmA.MACAddress: "127.0.0.11", vmB.MACAddress: "127.0.0.12"}, "the VMs behind their hosts' tunneling IPs")
		// One fanout add with the switch's flooding entry, to both hosts.
		both(fdbCast{"add", entries(flood)})
		agents.waitCasts(t, swIP, want, "the flooding entry at both agents")
		testenv.Eventually(t, 30*time.Second, "the connection in_sync, its hosts by l2pop", func() (bool, string) {
			st := connStatus(t, base, connID)
			hs := hostStates(st.Hosts)
			return st.State == agentwire.StateInSync && cmp.Equal(hs, []string{"compute1 in_sync ", "compute2 in_sync "}) &&
					st.Hosts[0].AppliedRevision > 0 && st.Hosts[0].Connected && st.L2Pop != nil && st.L2Pop.State == agentwire.StateInSync,
				fmt.Sprintf("%s %v l2pop %+v", st.State, hs, st.L2Pop)
		})
	})
	if !ok {
		return
	}

	const bmMAC, bmIP = "00:bb:00:00:00:01", "10.1.0.50"
	t.Run("BareMetalMAC", func(t *testing.T) {
		// The switch learns a bare-metal MAC on port1 (as its firmware
		// would): a per-MAC entry follows the flooding entry.
		sw.VTEPCtl(t, "add-ucast-local", netID, bmMAC, swIP)
		uuid := sw.VTEPCtl(t, "--bare", "--columns=_uuid", "find", "Ucast_Macs_Local", `MAC="`+bmMAC+`"`)
		sw.VTEPCtl(t, "set", "Ucast_Macs_Local", strings.TrimSpace(uuid), "ipaddr="+bmIP)
		both(fdbCast{"add", entries([2]string{bmMAC, bmIP})})
		agents.waitCasts(t, swIP, want, "the bare-metal MAC at both agents")
	})

	all := entries([2]string{bmMAC, bmIP}, flood)
	slices.SortFunc(all[netID], func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	t.Run("PortActive", func(t *testing.T) {
		// vmA ACTIVE on compute1: a re-send targeted at compute1 only
		// (its agent may have ignored the fanout before it had a port of
		// the network).
		up.up(t, vmA.ID, "compute1")
		testenv.Eventually(t, 30*time.Second, "vmA ACTIVE in Neutron", func() (bool, string) {
			var p struct {
				Port struct{ Status string } `json:"port"`
			}
			getJSON(t, n.URL+"/v2.0/ports/"+vmA.ID, &p)
			return p.Port.Status == "ACTIVE", p.Port.Status
		})
		expect("compute1", fdbCast{"add", all})
		agents.waitCasts(t, swIP, want, "the re-send to compute1")
	})

	t.Run("AgentRestart", func(t *testing.T) {
		before := agentStartedAt(t, n, "compute1")
		restartAgent(t, n, "compute1", "127.0.0.11")
		if after := agentStartedAt(t, n, "compute1"); after == before {
			t.Fatalf("compute1's started_at %s unchanged by a start_flag report", after)
		}
		expect("compute1", fdbCast{"add", all})
		agents.waitCasts(t, swIP, want, "the re-send to the restarted compute1")
	})

	t.Run("Latency", func(t *testing.T) {
		// Port created (bound, in Neutron) -> its MAC on the switch, and
		// port made ACTIVE (update_device_up) -> the re-send received by
		// the host's agent.
		samples := 24
		if s := os.Getenv("L2GW_NEUTRON_SAMPLES"); s != "" {
			samples, _ = strconv.Atoi(s)
		}
		if testing.Short() {
			samples = 3
		}
		var toSwitch, toCast []time.Duration
		for i := range samples {
			host, ip := "compute2", "127.0.0.12"
			p := postPort(t, n.URL, netID, host, fmt.Sprintf("lat%d", i))
			t0 := time.Now()
			pollFine(t, "port "+p.ID+" on the switch", func() (bool, string) {
				got := remoteMACs(t, sw, netID)
				return got[p.MACAddress] == ip, fmt.Sprint(got)
			})
			toSwitch = append(toSwitch, time.Since(t0))
			have := len(agents.casts(t, host, swIP))
			// From the call: neutron-server answers only after its own
			// l2pop work, by when l2gw may have seen the port ACTIVE.
			t1 := time.Now()
			up.up(t, p.ID, host)
			pollFine(t, "the re-send for "+p.ID, func() (bool, string) {
				n := len(agents.casts(t, host, swIP))
				return n > have, fmt.Sprintf("%d casts", n)
			})
			toCast = append(toCast, time.Since(t1))
			expect(host, fdbCast{"add", all})
		}
		agents.waitCasts(t, swIP, want, "one re-send per ACTIVE port, nothing else")
		slices.Sort(toSwitch)
		slices.Sort(toCast)
		t.Logf("neutron poll interval %v, %d samples: port created -> MAC on the switch p50 %v p99 %v max %v; update_device_up called -> l2pop re-send received p50 %v p99 %v max %v",
			poll, samples, percentile(toSwitch, 0.5).Round(time.Millisecond), percentile(toSwitch, 0.99).Round(time.Millisecond), toSwitch[len(toSwitch)-1].Round(time.Millisecond),
			percentile(toCast, 0.5).Round(time.Millisecond), percentile(toCast, 0.99).Round(time.Millisecond), toCast[len(toCast)-1].Round(time.Millisecond))
	})

	t.Run("Disconnect", func(t *testing.T) {
		if _, err := openstack(t, base, "l2gw", "connection", "delete", connID); err != nil {
			t.Fatal(err)
		}
		// Exactly the matching removes: everything sent, once, to both.
		both(fdbCast{"remove", all})
		agents.waitCasts(t, swIP, want, "the removes at both agents")
		// Nothing of the connection is left on the switch (the bare-metal
		// MAC's Ucast_Macs_Local row goes with its logical switch).
		testenv.Eventually(t, 30*time.Second, "the switch is left as before", func() (bool, string) {
			out, _ := exec.Command("vtep-ctl", "--db="+sw.UnixTarget(), "list-ls").CombinedOutput()
			b, _ := exec.Command("vtep-ctl", "--db="+sw.UnixTarget(), "list-bindings", "gatewayhost", "port1").CombinedOutput()
			m, _ := exec.Command("vtep-ctl", "--db="+sw.UnixTarget(), "list", "Ucast_Macs_Local").CombinedOutput()
			return strings.TrimSpace(string(out)) == "" && strings.TrimSpace(string(b)) == "" && strings.TrimSpace(string(m)) == "",
				fmt.Sprintf("logical switches %q, bindings %q, local MACs %q", out, b, m)
		})
		agents.waitCasts(t, swIP, want, "nothing more after the disconnect")
	})
}
