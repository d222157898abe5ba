package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// servedSerial is the serial of the certificate a new TLS connection to
// addr is served.
func servedSerial(addr string, conf *tls.Config) (string, error) {
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// TestTLSProcesses runs `l2gw server --tls-cert --tls-key --tls-client-ca`
// with a private CA: the CLI with --cacert lists, without it or with
// another CA it fails naming the certificate problem; a switch agent with
// --cacert and a client certificate programs its switch, and keeps doing so
// across a SIGHUP that rotates the server's certificate, which new
// connections are then served.
func TestTLSProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	files := testenv.NewTLSFiles(t, t.TempDir())
	other := testenv.NewTLSFiles(t, t.TempDir())
	o := testenv.StartOVSDB(t, false)
	o.VTEPCtl(t, "add-ps", "gatewayhost", "--", "set", "Physical_Switch", "gatewayhost", "tunnel_ips=192.0.2.10",
		"--", "add-port", "gatewayhost", "port1")
	bin := testenv.BuildL2GW(t)
	srv := testenv.StartL2GW(t, "server", bin, "server", "--bind", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "state"),
		"--tls-cert", files.ServerCert, "--tls-key", files.ServerKey, "--tls-client-ca", files.CACert)
	addr := srv.Listening(t)
	base := "https://" + addr

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tr := &http.Transport{TLSClientConfig: files.ClientConfig(t)}
	defer tr.CloseIdleConnections()
	c, err := client.New(base, client.WithHTTPClient(&http.Client{Transport: tr, Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the server answers over HTTPS", func() (bool, string) {
		_, err := c.ListSwitches(ctx, client.ListOptions{})
		return err == nil, errString(err)
	})

	if out, err := runCLI(t, base, "--cacert", files.CACert, "-f", "value", "-c", "name", "switch-list"); err != nil {
		t.Errorf("l2gw --cacert switch-list: %v", err)
	} else if out != "" {
		t.Errorf("l2gw --cacert switch-list = %q; want no switches yet", out)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no --cacert", nil},
		{"another CA", []string{"--cacert", other.CACert}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runCLI(t, base, append(tc.args, "switch-list")...)
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), "signed by an unknown authority") || !strings.Contains(err.Error(), "--cacert") {
				t.Errorf("l2gw switch-list = %v; want an error naming the unknown authority and --cacert", err)
			}
		})
	}
	// An http:// URL to the HTTPS server gets Go's 400 answer.
	if _, err := runCLI(t, "http://"+addr, "switch-list"); err == nil {
		t.Errorf("l2gw --url http://… switch-list against an HTTPS server succeeded")
	}

	agent := testenv.StartL2GW(t, "switch-agent", bin, "switch-agent", "--server", base, "--switch", o.UnixTarget(),
		"--cacert", files.CACert, "--cert", files.ClientCert, "--key", files.ClientKey, "--probe-interval", "1s")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.1"})
	must(err)
	_, err = c.CreateHost(ctx, neutron.HostCreate{Name: "compute2", VTEPIP: "192.0.2.2"})
	must(err)
	n, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	must(err)
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:01", HostID: "compute1"})
	must(err)
	testenv.Eventually(t, 30*time.Second, "the agent reports gatewayhost over HTTPS", func() (bool, string) {
		sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
		return err == nil && len(sws) == 1 && sws[0].Connected, "not yet"
	})
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1"}}}}})
	must(err)
	conn, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: n.ID, SegmentationID: "100"})
	must(err)
	converged := func(what, want string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, what, func() (bool, string) {
			got, ok := remoteMACs(t, o)
			return ok && got == want, got
		})
		testenv.Eventually(t, 30*time.Second, what+": connection in sync", func() (bool, string) {
			st, err := c.ConnectionStatus(ctx, conn.ID)
			if err != nil || len(st.Status) != 1 {
				return false, "status: " + errString(err)
			}
			return st.Status[0].State == agentwire.StateInSync, st.Status[0].State + " " + st.Status[0].Reason
		})
	}
	converged("programmed over HTTPS", `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.1`)

	// Rotate: a new certificate of the same CA, then SIGHUP.
	conf := files.ClientConfig(t)
	if serial, err := servedSerial(addr, conf); err != nil || serial != "2" {
		t.Fatalf("served certificate before rotation: serial %s, err %v; want 2", serial, err)
	}
	files.IssueServerCert(t, 10, files.ServerCert, files.ServerKey)
	if err := srv.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "new connections are served the new certificate", func() (bool, string) {
		serial, err := servedSerial(addr, conf)
		return err == nil && serial == "10", fmt.Sprintf("serial %s, err %v", serial, err)
	})
	if !srv.Running() || !agent.Running() {
		t.Fatalf("after SIGHUP: server running %v, agent running %v; want both", srv.Running(), agent.Running())
	}
	// A change after the rotation still reaches the switch.
	_, err = c.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:00:00:02", HostID: "compute2"})
	must(err)
	converged("a change after the rotation", `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.1
  fa:16:3e:00:00:02 -> vxlan_over_ipv4/192.0.2.2

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.1
  unknown-dst -> vxlan_over_ipv4/192.0.2.2`)
	sws, err := c.ListSwitches(ctx, client.Filter("name", "gatewayhost"))
	if err != nil || len(sws) != 1 || !sws[0].Connected {
		t.Errorf("after rotation: switches %+v, err %v; want gatewayhost connected", sws, err)
	}
	if logs := srv.Logs(); !strings.Contains(logs, "tls certificate reloaded") {
		t.Errorf("server log lacks the reload line:\n%s", logs)
	}
	agent.Terminate(t)
	srv.Terminate(t)
}

// TestTLSFlags checks the TLS flags are validated at start: the server's
// certificate and key go together and a client CA needs them; a client's
// --cert and --key go together and --cacert must hold a certificate.
func TestTLSFlags(t *testing.T) {
	files := testenv.NewTLSFiles(t, t.TempDir())
	for _, tc := range []struct {
		name                string
		cert, key, clientCA string
		wantErr             string
	}{
		{"cert and key", files.ServerCert, files.ServerKey, files.CACert, ""},
		{"cert without key", files.ServerCert, "", "", "--tls-cert and --tls-key go together"},
		{"client CA alone", "", "", files.CACert, "--tls-client-ca needs --tls-cert and --tls-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := serverFlags{bind: "127.0.0.1:0", dataDir: t.TempDir(), auth: "noauth", logLevel: "error", logFormat: "json",
				replication: replicationFlags{mode: "source_node"}, tlsCert: tc.cert, tlsKey: tc.key, tlsClientCA: tc.clientCA}
			cfg, _, err := f.config()
			switch {
			case tc.wantErr == "" && (err != nil || cfg.TLS == nil || cfg.TLS.ClientCAFile != tc.clientCA):
				t.Errorf("config() = TLS %+v, %v; want TLS with client CA %s", cfg.TLS, err, tc.clientCA)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("config() error = %v; want %q", err, tc.wantErr)
			}
		})
	}
	for _, tc := range []struct {
		name, cacert, cert, key, wantErr string
	}{
		{"cert without key", "", files.ClientCert, "", "--cert and --key go together"},
		{"not a CA file", files.ClientKey, "", "", "no PEM certificate"},
		{"missing CA file", filepath.Join(t.TempDir(), "none.pem"), "", "", "no such file"},
	} {
		t.Run("client "+tc.name, func(t *testing.T) {
			if _, err := clientTLS(tc.cacert, tc.cert, tc.key); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("clientTLS(%q, %q, %q) = %v; want an error with %q", tc.cacert, tc.cert, tc.key, err, tc.wantErr)
			}
		})
	}
	conf, err := clientTLS(files.CACert, files.ClientCert, files.ClientKey)
	if err != nil || conf.MinVersion != tls.VersionTLS12 || len(conf.Certificates) != 1 || conf.RootCAs == nil {
		t.Errorf("clientTLS(CA, cert, key) = %+v, %v; want TLS 1.2+, one certificate, the CA", conf, err)
	}
}
