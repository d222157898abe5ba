package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/server"
	"github.com/l2gw/l2gw/internal/switchagent"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestCLIUnanswered: a server that never answers and a port nobody listens
// on end the command within --timeout with a message naming the URL and
// what to check, not a raw Go error.
func TestCLIUnanswered(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name    string
		url     string
		args    []string
		want    []string
		notWant string
		within  time.Duration
	}{
		{
			name: "no answer", url: hang.URL, args: []string{"--timeout", "300ms", "l2-gateway-list"},
			want:   []string{"no answer from the l2gw API at " + hang.URL + " within 300ms (--timeout)", "give a longer --timeout"},
			within: 5 * time.Second,
		},
		{
			name: "no answer to a create", url: hang.URL, args: []string{"--timeout", "200ms", "net-create", "net1"},
			want:   []string{"no answer from the l2gw API at " + hang.URL + " within 200ms"},
			within: 5 * time.Second,
		},
		{
			name: "refused", url: closed.URL, args: []string{"l2-gateway-list"},
			want:    []string{"cannot connect to the l2gw API at " + closed.URL + ": connection refused", "--url (or L2GW_URL)"},
			notWant: "dial tcp", within: 5 * time.Second,
		},
		{
			name: "bad timeout", url: closed.URL, args: []string{"--timeout", "0s", "net-list"},
			want: []string{"--timeout 0s: want a positive duration"}, within: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := runCLI(t, tt.url, tt.args...)
			took := time.Since(start)
			if err == nil {
				t.Fatalf("l2gw %s: no error", strings.Join(tt.args, " "))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("l2gw %s: err = %q; want containing %q", strings.Join(tt.args, " "), err, w)
				}
			}
			if tt.notWant != "" && strings.Contains(err.Error(), tt.notWant) {
				t.Errorf("l2gw %s: err = %q; want without %q", strings.Join(tt.args, " "), err, tt.notWant)
			}
			if took > tt.within {
				t.Errorf("l2gw %s took %s; want within %s", strings.Join(tt.args, " "), took, tt.within)
			}
		})
	}
}

// TestCLIFormats: every -f with and without -c, on a list and on a show.
func TestCLIFormats(t *testing.T) {
	url := startAPI(t)
	n1 := cliJSON[neutron.Network](t, url, "net-create", "net1", "--vni", "1000")
	n2 := cliJSON[neutron.Network](t, url, "net-create", "net 2", "--vni", "1001")
	first, second := n1, n2
	if n2.ID < n1.ID { // the API lists by id
		first, second = n2, n1
	}
	line := func(n neutron.Network, vni string) string { return n.ID + " " + n.Name + " " + vni + "\n" }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-f", "value", "-c", "id", "net-show", "net1"}, n1.ID + "\n"},
		{[]string{"-f", "value", "-c", "name", "-c", "provider:segmentation_id", "net-show", n2.ID}, "net 2\n1001\n"},
		{[]string{"-f", "value", "-c", "id", "-c", "name", "-c", "provider:segmentation_id", "net-list"},
			line(first, map[string]string{n1.ID: "1000", n2.ID: "1001"}[first.ID]) + line(second, map[string]string{n1.ID: "1000", n2.ID: "1001"}[second.ID])},
		{[]string{"-f", "value", "-c", "name", "net-list", "--name", "net 2"}, "net 2\n"},
		{[]string{"-f", "csv", "-c", "name", "-c", "provider:segmentation_id", "net-list", "--name", "net1"},
			"\"name\",\"provider:segmentation_id\"\n\"net1\",\"1000\"\n"},
		{[]string{"-f", "csv", "-c", "id", "-c", "name", "net-show", "net1"}, "\"id\",\"name\"\n\"" + n1.ID + "\",\"net1\"\n"},
		{[]string{"-f", "yaml", "-c", "name", "-c", "provider:segmentation_id", "net-list", "--name", "net1"},
			"- name: net1\n  provider:segmentation_id: 1000\n"},
		{[]string{"-f", "yaml", "-c", "name", "net-show", "net1"}, "name: net1\n"},
		{[]string{"-f", "json", "-c", "name", "net-list", "--name", "net1"}, "[\n  {\n    \"name\": \"net1\"\n  }\n]\n"},
		{[]string{"-f", "json", "-c", "id", "net-show", "net1"}, "{\n  \"id\": \"" + n1.ID + "\"\n}\n"},
		{[]string{"-c", "name", "-c", "provider:segmentation_id", "net-list", "--name", "net1"},
			"+------+--------------------------+\n| name | provider:segmentation_id |\n+------+--------------------------+\n| net1 | 1000                     |\n+------+--------------------------+\n"},
		{[]string{"-c", "name", "net-show", "net1"}, "+-------+-------+\n| Field | Value |\n+-------+-------+\n| name  | net1  |\n+-------+-------+\n"},
		{[]string{"-f", "value", "-c", "id", "net-list", "--name", "nosuch"}, ""},
		{[]string{"-f", "csv", "-c", "id", "net-list", "--name", "nosuch"}, "\"id\"\n"},
		{[]string{"-f", "json", "net-list", "--name", "nosuch"}, "[]\n"},
		{[]string{"-f", "value", "net-delete", "net 2"}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := mustCLI(t, url, tt.args...)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("l2gw %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}
	// A whole object in YAML has every field.
	out := mustCLI(t, url, "-f", "yaml", "net-show", "net1")
	for _, w := range []string{"id: " + n1.ID + "\n", "name: net1\n", "provider:network_type: vxlan\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("l2gw -f yaml net-show net1 = %q; want containing %q", out, w)
		}
	}
	for _, tt := range []struct{ args []string }{
		{[]string{"-c", "nosuch", "net-list"}}, // the default columns first
		{[]string{"-c", "nosuch", "net-show", "net1"}},
	} {
		args := tt.args
		want := `-c/--column "nosuch": no such column; want one of `
		if args[2] == "net-list" {
			want += "id, name, provider:network_type, provider:segmentation_id, admin_state_up"
		}
		_, err := runCLI(t, url, args...)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "tenant_id") {
			t.Errorf("l2gw %s: err = %v; want the unknown column named with the known ones", strings.Join(args, " "), err)
		}
	}
}

// TestCLINames: names wherever an id goes, for gateways and networks,
// including connections; a name shared by several objects is an error
// listing them; lists show names beside ids.
func TestCLINames(t *testing.T) {
	url := startAPI(t)
	net := cliJSON[neutron.Network](t, url, "net-create", "net1", "--vni", "1000")
	d1 := cliJSON[neutron.Network](t, url, "net-create", "dup", "--vni", "1001")
	d2 := cliJSON[neutron.Network](t, url, "net-create", "dup", "--vni", "1002")
	gw := cliJSON[neutron.Gateway](t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	mustCLI(t, url, "host-create", "compute1", "--vtep-ip", "192.0.2.2")
	mustCLI(t, url, "port-create", "net1", "--name", "vm1", "--host", "compute1", "--mac", "fa:16:3e:00:00:01")
	conn := cliJSON[neutron.Connection](t, url, "l2-gateway-connection-create", "gw1", "net1", "--default-segmentation-id", "100")
	if conn.L2GatewayID != gw.ID || conn.NetworkID != net.ID {
		t.Fatalf("l2-gateway-connection-create gw1 net1 = %+v; want gateway %s network %s", conn, gw.ID, net.ID)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-f", "value", "-c", "id", "l2-gateway-connection-show", conn.ID}, conn.ID + "\n"},
		{[]string{"-f", "value", "-c", "id", "l2-gateway-connection-show", "gw1", "net1"}, conn.ID + "\n"},
		{[]string{"-f", "value", "-c", "id", "l2-gateway-connection-show", gw.ID, "net1"}, conn.ID + "\n"},
		{[]string{"-f", "value", "-c", "id", "-c", "l2_gateway_name", "-c", "network_name", "l2-gateway-connection-list", "--gateway", "gw1"},
			conn.ID + " gw1 net1\n"},
		{[]string{"-f", "value", "-c", "id", "l2-gateway-connection-list", "--network", "net1"}, conn.ID + "\n"},
		{[]string{"-f", "value", "-c", "name", "-c", "network_name", "port-list"}, "vm1 net1\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if diff := cmp.Diff(tt.want, mustCLI(t, url, tt.args...)); diff != "" {
				t.Errorf("l2gw %s (-want +got):\n%s", strings.Join(tt.args, " "), diff)
			}
		})
	}
	// The connection list's table has the names beside the ids.
	out := mustCLI(t, url, "l2-gateway-connection-list")
	if !strings.Contains(out, "| l2_gateway_name |") || !strings.Contains(out, "| gw1             |") || !strings.Contains(out, "| net1         |") {
		t.Errorf("l2-gateway-connection-list shows no names:\n%s", out)
	}

	errs := []struct {
		args []string
		want []string
	}{
		{[]string{"l2-gateway-connection-create", "gw1", "dup", "--default-segmentation-id", "200"},
			[]string{"Multiple network matches found for name 'dup'", d1.ID, d2.ID}},
		{[]string{"l2-gateway-connection-list", "--network", "dup"}, []string{"Multiple network matches found for name 'dup'", d1.ID, d2.ID}},
		{[]string{"l2-gateway-connection-show", "gw1", "dup"}, []string{"Multiple network matches found", d1.ID, d2.ID}},
		{[]string{"l2-gateway-connection-show", "gw1", d1.ID}, []string{"Gateway 'gw1' is not connected to network '" + d1.ID + "'"}},
		{[]string{"l2-gateway-connection-show", "00000000-0000-0000-0000-000000000000"},
			[]string{"Unable to find l2_gateway_connection with id '00000000-0000-0000-0000-000000000000'"}},
		{[]string{"l2-gateway-connection-delete", "gw1"}, []string{"Unable to find l2_gateway_connection with id 'gw1'"}},
		{[]string{"l2-gateway-connection-status", "nosuch"}, []string{"Unable to find l2_gateway_connection with id 'nosuch'"}},
	}
	for _, tt := range errs {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runCLI(t, url, tt.args...)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("l2gw %s: err = %v; want containing %q", strings.Join(tt.args, " "), err, w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "connection  not") {
				t.Errorf("l2gw %s: err = %q; the API's garbled message reached the user", strings.Join(tt.args, " "), err)
			}
		})
	}
	out = mustCLI(t, url, "l2-gateway-connection-delete", conn.ID)
	if want := "Deleted l2_gateway_connection: " + conn.ID + "\n"; out != want {
		t.Errorf("l2-gateway-connection-delete = %q; want %q", out, want)
	}
}

// TestCLIUsage: argument and flag mistakes name the problem in words and
// print the command's usage line; no raw strconv or cobra messages.
func TestCLIUsage(t *testing.T) {
	url := startAPI(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"l2-gateway-show"}, []string{"l2-gateway-show: wants 1 argument, got 0", "Usage: l2gw l2-gateway-show <gateway-name/uuid>"}},
		{[]string{"l2-gateway-connection-create", "gw1"}, []string{"wants 2 arguments, got 1", "Usage: l2gw l2-gateway-connection-create <gateway-name/uuid> <network-name/uuid>"}},
		{[]string{"l2-gateway-connection-show"}, []string{"wants 1 to 2 arguments, got 0", "Usage: l2gw l2-gateway-connection-show <connection-uuid> | <gateway-name/uuid> <network-name/uuid>"}},
		{[]string{"net-delete"}, []string{"wants at least 1 argument, got 0", "Usage: l2gw net-delete"}},
		{[]string{"net-list", "extra"}, []string{"net-list: takes no arguments, got 1 (extra)", "Usage: l2gw net-list"}},
		{[]string{"net-create", "n1", "--vni", "abc"}, []string{`--vni "abc": want a whole number`, "Usage: l2gw net-create <name> [--vni VNI]"}},
		{[]string{"--timeout", "5", "net-list"}, []string{`--timeout "5": want a duration such as 500ms, 30s or 2m`}},
		{[]string{"l2-gateway-connection-create", "gw1", "net1", "--wait-timeout", "soon"}, []string{`--wait-timeout "soon": want a duration`}},
		{[]string{"net-list", "--nosuch"}, []string{"unknown flag: --nosuch", "Usage: l2gw net-list"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := runCLI(t, url, tt.args...)
			if err == nil {
				t.Fatalf("l2gw %s: no error", strings.Join(tt.args, " "))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("l2gw %s: err = %q; want containing %q", strings.Join(tt.args, " "), err, w)
				}
			}
			for _, raw := range []string{"strconv", "arg(s)", "time: "} {
				if strings.Contains(err.Error(), raw) {
					t.Errorf("l2gw %s: err = %q; has the raw %q", strings.Join(tt.args, " "), err, raw)
				}
			}
		})
	}
}

// startServerWithSwitch runs the real server in-process with its embedded
// switch agent on a real ovsdb-server holding switch gatewayhost (ports
// port1, port2), and returns its URL once the switch is reported.
func startServerWithSwitch(t *testing.T) (string, *testenv.OVSDB) {
	t.Helper()
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1", "--", "add-port", "gatewayhost", "port2")
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, server.Config{
			Bind:     "127.0.0.1:0",
			Database: "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
			Switches: []switchagent.Config{{Target: o.UnixTarget(), ProbeInterval: time.Second}},
			Listening: func(a net.Addr) {
				addrc <- a.String()
			},
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server.Run: %v", err)
		}
	})
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a
	case err := <-done:
		t.Fatalf("server.Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start listening within 30s")
	}
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the embedded agent reports gatewayhost", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet " + errString(err)
	})
	return url, o
}

// TestCLIConnectionWait: --wait returns once the switch is programmed, and
// fails with the reason when a host of the network is not (no host agent
// runs for it) by the --wait-timeout.
func TestCLIConnectionWait(t *testing.T) {
	url, o := startServerWithSwitch(t)
	mustCLI(t, url, "net-create", "net1", "--vni", "1000")
	mustCLI(t, url, "net-create", "net2", "--vni", "1001")
	mustCLI(t, url, "l2-gateway-create", "gw1", "--device", "name=gatewayhost,interface_names=port1")
	mustCLI(t, url, "l2-gateway-create", "gw2", "--device", "name=gatewayhost,interface_names=port2")

	start := time.Now()
	out := mustCLI(t, url, "-f", "value", "-c", "id", "l2-gateway-connection-create", "gw1", "net1",
		"--default-segmentation-id", "100", "--wait", "--wait-timeout", "30s")
	id := strings.TrimSpace(out)
	t.Logf("--wait returned after %s", time.Since(start))
	// Returned: the switch holds the binding already, and the status says so.
	if b := o.VTEPCtl(t, "list-bindings", "gatewayhost", "port1"); !strings.HasPrefix(b, "0100 ") {
		t.Errorf("port1 bindings after --wait = %q; want VLAN 100 bound", b)
	}
	st := cliJSON[agentwire.ConnectionStatus](t, url, "l2-gateway-connection-status", id)
	if st.State != agentwire.StateInSync {
		t.Errorf("status after --wait = %+v; want in_sync", st)
	}
	// The status by gateway and network names, one switch and no host.
	if got := mustCLI(t, url, "-f", "value", "-c", "kind", "-c", "name", "-c", "state", "l2-gateway-connection-status", "gw1", "net1"); got != "switch gatewayhost in_sync\n" {
		t.Errorf("l2-gateway-connection-status gw1 net1 = %q; want the switch in_sync", got)
	}

	// net2 has a port on compute1, whose host agent never runs: the wait
	// fails, naming the host and why, within its timeout, and l2gw exits
	// with status 1 (the binary, as a script sees it).
	mustCLI(t, url, "host-create", "compute1", "--vtep-ip", "192.0.2.2")
	mustCLI(t, url, "port-create", "net2", "--name", "vm1", "--host", "compute1")
	bin := testenv.BuildL2GW(t)
	cmd := exec.Command(bin, "--url", url, "-f", "value", "-c", "id", "l2-gateway-connection-create", "gw2", "net2",
		"--default-segmentation-id", "200", "--wait", "--wait-timeout", "2s")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start = time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("l2gw ... --wait with a host that never syncs: %v; want exit status 1\nstderr: %s", err, stderr.String())
	}
	msg := stderr.String()
	t.Logf("--wait failed after %s: %s", took, msg)
	if !strings.Contains(msg, "host compute1 ") {
		t.Errorf("--wait stderr = %q; want host compute1 named", msg)
	}
	if !strings.Contains(msg, "is in error: ") && !strings.Contains(msg, "not in_sync within 2s (--wait-timeout): ") {
		t.Errorf("--wait stderr = %q; want an error state or the timeout", msg)
	}
	if took > 15*time.Second {
		t.Errorf("--wait --wait-timeout 2s took %s", took)
	}
	if id2 := strings.TrimSpace(stdout.String()); id2 == "" || id2 == id {
		t.Errorf("--wait failure printed connection id %q; the operator needs the new id to delete the connection", id2)
	}
}

// TestWaitInSync: the --wait loop on status answers in the API's shape:
// in_sync ends it, error ends it with the reasons, pending until the
// timeout ends it with what is pending, and an API error is returned.
func TestWaitInSync(t *testing.T) {
	pending := agentwire.ConnectionStatus{State: agentwire.StatePending,
		Status: []agentwire.SwitchSync{{Switch: "sw1", State: agentwire.StatePending, Reason: "applying"}},
		Hosts:  []agentwire.HostSync{{Host: "h1", State: agentwire.StateInSync}}}
	inSync := agentwire.ConnectionStatus{State: agentwire.StateInSync,
		Status: []agentwire.SwitchSync{{Switch: "sw1", State: agentwire.StateInSync}}}
	failed := agentwire.ConnectionStatus{State: agentwire.StateError,
		Status: []agentwire.SwitchSync{{Switch: "sw1", State: agentwire.StateError, Reason: "port p2 missing"}}}
	tests := []struct {
		name    string
		answers []agentwire.ConnectionStatus // the last one repeats; nil: 404
		want    string                       // error substring; empty: success
	}{
		{"in sync at once", []agentwire.ConnectionStatus{inSync}, ""},
		{"pending, then in sync", []agentwire.ConnectionStatus{pending, pending, inSync}, ""},
		{"error", []agentwire.ConnectionStatus{pending, failed}, "connection c1 is in error: switch sw1 error (port p2 missing)"},
		{"timeout", []agentwire.ConnectionStatus{pending}, "connection c1 not in_sync within 700ms (--wait-timeout): switch sw1 pending (applying)"},
		{"not found", nil, "could not be found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32 // status requests answered
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != agentwire.ConnectionStatusPath("c1") || tt.answers == nil {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					_, _ = w.Write([]byte(`{"NeutronError": {"type": "L2GatewayConnectionNotFound", "message": "Connection c1 could not be found", "detail": ""}}`))
					return
				}
				_ = writeJSON(w, tt.answers[min(int(n.Add(1))-1, len(tt.answers)-1)])
			}))
			defer srv.Close()
			c, err := client.New(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = waitInSync(context.Background(), c, "c1", 700*time.Millisecond)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("waitInSync took %s; want about the 700ms timeout at most", took)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("waitInSync() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("waitInSync() = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}
