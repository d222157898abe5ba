package switchagent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// newSSLSwitch starts ovsdb-server with an SSL listener (and its PKI) and
// creates gatewayhost with ports.
func newSSLSwitch(t testing.TB, ports ...string) (*testenv.OVSDB, testenv.TLSFiles) {
	t.Helper()
	o, files := testenv.StartOVSDBTLS(t)
	createSwitch(t, o, ports...)
	return o, files
}

// TestSSLTarget programs a switch over an ssl: target with a client
// certificate signed by the switch's CA, also after the switch restarts.
func TestSSLTarget(t *testing.T) {
	o, files := newSSLSwitch(t, "port1", "port2")
	plans, rec := newFakePlans(), &recorder{}
	plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").
		mac("net1", "fa:16:3e:00:00:01", "10.0.0.1", "192.0.2.11").flood("net1", "192.0.2.11").build())
	startAgent(t, Config{Target: o.SSLTarget(), TLS: files.ClientConfig(t), Switch: "gatewayhost"}, plans, rec)
	rec.waitSynced(t, 1, "")
	if got := o.VTEPCtl(t, "list-bindings", "gatewayhost", "port1"); got != "0100 net1" {
		t.Errorf("vtep-ctl list-bindings gatewayhost port1 = %q; want %q", got, "0100 net1")
	}
	want := `ucast-mac-remote
  fa:16:3e:00:00:01 -> vxlan_over_ipv4/192.0.2.11

mcast-mac-remote
  unknown-dst -> vxlan_over_ipv4/192.0.2.11`
	if got := o.VTEPCtl(t, "list-remote-macs", "net1"); got != want {
		t.Errorf("vtep-ctl list-remote-macs net1 =\n%s\nwant\n%s", got, want)
	}
	if rep, ok := rec.lastReport(); !ok || rep.Switch.Name != "gatewayhost" {
		t.Errorf("last report = %+v, %v; want gatewayhost reported", rep, ok)
	}

	// The switch restarts on the same SSL port: the agent redials with TLS
	// and applies the next plan.
	o.Restart(t, false)
	plans.Set(2, newPlan().ls("net1", 1000).bind("port1", 100, "net1").bind("port2", 200, "net1").build())
	rec.waitSynced(t, 2, "")
	if got := o.VTEPCtl(t, "list-bindings", "gatewayhost", "port2"); got != "0200 net1" {
		t.Errorf("after the restart: vtep-ctl list-bindings gatewayhost port2 = %q; want %q", got, "0200 net1")
	}
	if got := o.VTEPCtl(t, "list-remote-macs", "net1"); got != "ucast-mac-remote\n\nmcast-mac-remote" {
		t.Errorf("after the restart: vtep-ctl list-remote-macs net1 = %q; want none", got)
	}
}

// TestSSLTargetRefused: when the TLS handshake cannot succeed (a client
// certificate of another CA, or a server certificate the agent does not
// trust) the agent never connects, says so in its status, reports no
// switch and writes nothing.
func TestSSLTargetRefused(t *testing.T) {
	o, files := newSSLSwitch(t, "port1")
	other := testenv.NewTLSFiles(t, t.TempDir()) // an unrelated CA
	foreignClient := files.ClientConfig(t)
	cert, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	foreignClient.Certificates = []tls.Certificate{cert}
	for _, tc := range []struct {
		name    string
		tls     *tls.Config
		wantErr string // in the status error
	}{
		// ovsdb-server's alert, read by the first request (list_dbs).
		{"client certificate of another CA", foreignClient, "tls: unknown certificate authority"},
		{"server certificate not trusted", other.ClientConfig(t), "x509: certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rawDump(t, o)
			plans, rec := newFakePlans(), &recorder{}
			plans.Set(1, newPlan().ls("net1", 1000).bind("port1", 100, "net1").build())
			failed := msgCounter{msg: "ovsdb connect failed", n: new(atomic.Int64)}
			stop := startAgent(t, Config{Target: o.SSLTarget(), TLS: tc.tls, Switch: "gatewayhost",
				Logger: slog.New(failed), BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond}, plans, rec)
			eventually(t, 20*time.Second, func() string {
				if n := failed.n.Load(); n < 3 {
					return fmt.Sprintf("%d failed dials; want 3", n)
				}
				if s, _ := rec.lastStatus(); s.Connected || !strings.HasPrefix(s.Error, "connect "+o.SSLTarget()+": ") || !strings.Contains(s.Error, tc.wantErr) {
					return fmt.Sprintf("status %+v; want disconnected, error \"connect %s: ...%s...\"", s, o.SSLTarget(), tc.wantErr)
				}
				return ""
			})
			stop()
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, s := range rec.statuses {
				if s.Connected || s.Revision != 0 {
					t.Errorf("status %+v; want never connected, nothing applied", s)
				}
			}
			if len(rec.reports) != 0 {
				t.Errorf("%d switch reports; want none (never connected)", len(rec.reports))
			}
			if after := rawDump(t, o); after != before {
				t.Errorf("the database changed:\n%s\nwant\n%s", after, before)
			}
		})
	}
}

// msgCounter is a slog.Handler counting the records with message msg.
type msgCounter struct {
	msg string
	n   *atomic.Int64
}

func (h msgCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h msgCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h msgCounter) WithGroup(string) slog.Handler            { return h }
func (h msgCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
