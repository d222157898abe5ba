package agentapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/agentapi"
	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/keystone"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

// tlsEnv serves e's handler over HTTPS with client certificates verified
// against pki's CA (tls.VerifyClientCertIfGiven, as server.Run does with
// --tls-client-ca).
func tlsEnv(t *testing.T, e *env, pki testenv.TLSFiles) *httptest.Server {
	t.Helper()
	b, err := os.ReadFile(pki.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	cert, err := tls.LoadX509KeyPair(pki.ServerCert, pki.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.srv.Config.Handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// agentClient is an HTTPS client trusting pki's CA and presenting the
// certificate in certFile and keyFile (none when empty).
func agentClient(t *testing.T, pki testenv.TLSFiles, certFile, keyFile string) *http.Client {
	t.Helper()
	conf := pki.ClientConfig(t)
	conf.Certificates = nil
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		conf.Certificates = []tls.Certificate{c}
	}
	tr := &http.Transport{TLSClientConfig: conf}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// agentCall is one request of the agent protocol.
type agentCall struct{ method, path, body string }

var (
	registerCompute1 = agentCall{"POST", agentwire.HostRegisterPath("compute1"), `{"vtep_ip":"192.0.2.1"}`}
	registerCompute2 = agentCall{"POST", agentwire.HostRegisterPath("compute2"), `{"vtep_ip":"192.0.2.2"}`}
	statusCompute1   = agentCall{"PUT", agentwire.HostStatusPath("compute1"), `{"connected":true,"revision":1}`}
	statusCompute2   = agentCall{"PUT", agentwire.HostStatusPath("compute2"), `{"connected":true,"revision":1}`}
	planCompute1     = agentCall{"GET", agentwire.HostPlanPath("compute1"), ""}
	planCompute2     = agentCall{"GET", agentwire.HostPlanPath("compute2"), ""}
	reportSW1        = agentCall{"POST", agentwire.SwitchReportPath("sw1"), `{"switch":{"name":"sw1","tunnel_ips":["192.0.2.10"],"ports":[{"name":"p1"},{"name":"p2"}]},"local_macs":[]}`}
	reportSW2        = agentCall{"POST", agentwire.SwitchReportPath("sw2"), `{"switch":{"name":"sw2","tunnel_ips":["192.0.2.20"]},"local_macs":[]}`}
	statusSW1        = agentCall{"PUT", agentwire.SwitchStatusPath("sw1"), `{"connected":true,"revision":1}`}
	statusSW2        = agentCall{"PUT", agentwire.SwitchStatusPath("sw2"), `{"connected":true,"revision":1}`}
	planSW1          = agentCall{"GET", agentwire.SwitchPlanPath("sw1"), ""}
	planSW2          = agentCall{"GET", agentwire.SwitchPlanPath("sw2"), ""}
	leaseCompute1    = agentCall{"POST", agentwire.HostLeasePath("compute1"), `{"agent":"a","instance":"i1","duration_ms":3000}`}
	leaseCompute2    = agentCall{"POST", agentwire.HostLeasePath("compute2"), `{"agent":"a","instance":"i1","duration_ms":3000}`}
	leaseSW1         = agentCall{"POST", agentwire.SwitchLeasePath("sw1"), `{"agent":"a","instance":"i1","duration_ms":3000}`}
	leaseSW2         = agentCall{"POST", agentwire.SwitchLeasePath("sw2"), `{"agent":"a","instance":"i1","duration_ms":3000}`}
	everyAgentCall   = []agentCall{registerCompute1, registerCompute2, statusCompute1, statusCompute2, planCompute1, planCompute2,
		reportSW1, reportSW2, statusSW1, statusSW2, planSW1, planSW2, leaseCompute1, leaseCompute2, leaseSW1, leaseSW2}
)

// send makes the call and returns its status and the NeutronError type
// of a refusal; plan streams are cut once their headers arrive.
func (c agentCall) send(t *testing.T, hc *http.Client, base string, hdr ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if c.body != "" {
		rd = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer res.Body.Close()
	if res.StatusCode < 300 {
		return res.StatusCode, ""
	}
	b, _ := io.ReadAll(res.Body)
	var eb neutron.ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Errorf("%s %s = %d %s; want a NeutronError body", c.method, c.path, res.StatusCode, b)
	}
	return res.StatusCode, eb.NeutronError.Type
}

// checkCalls sends every call of want and compares the status.
func checkCalls(t *testing.T, hc *http.Client, base string, want map[agentCall]int, hdr ...string) {
	t.Helper()
	for _, c := range everyAgentCall {
		w, ok := want[c]
		if !ok {
			continue
		}
		if got, typ := c.send(t, hc, base, hdr...); got != w {
			t.Errorf("%s %s = %d %s; want %d", c.method, c.path, got, typ, w)
		}
	}
}

// TestAgentCertificates: over TLS with client certificates of a private
// CA, a host agent's certificate acts only for its host and never for a
// switch; a switch agent's only for the switches it names or that
// Config.AgentSwitches gives it; even under noauth, where callers without
// an agent certificate still act as anyone.
func TestAgentCertificates(t *testing.T) {
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour, AgentSwitches: map[string][]string{"tor-agent-1": {"sw1"}}})
	e.seed()
	pki := testenv.NewTLSFiles(t, t.TempDir())
	srv := tlsEnv(t, e, pki)
	issue := func(name, ou, cn string, dns ...string) *http.Client {
		c, k := pki.IssueClientCert(t, name, ou, cn, dns...)
		return agentClient(t, pki, c, k)
	}
	const ok, created, stream, refused = http.StatusOK, http.StatusNoContent, http.StatusOK, http.StatusForbidden
	host1 := map[agentCall]int{
		registerCompute1: ok, registerCompute2: refused, statusCompute1: created, statusCompute2: refused,
		leaseCompute1: ok, leaseCompute2: refused, leaseSW1: refused,
		planCompute1: stream, planCompute2: refused,
		reportSW1: refused, reportSW2: refused, statusSW1: refused, planSW1: refused,
	}
	tor1 := map[agentCall]int{
		reportSW1: created, reportSW2: refused, statusSW1: created, statusSW2: refused, planSW1: stream, planSW2: refused,
		leaseSW1: ok, leaseSW2: refused, leaseCompute1: refused,
		registerCompute1: refused, statusCompute1: refused, planCompute1: refused,
	}
	tests := []struct {
		name   string
		client *http.Client
		want   map[agentCall]int
	}{
		{"host agent compute1 (CN)", issue("compute1", agentapi.HostAgentOU, "compute1"), host1},
		{"host agent compute1 (DNS SAN)", issue("compute1-san", agentapi.HostAgentOU, "host agent", "compute1"), host1},
		// A host agent named like a switch still cannot act for it.
		{"host agent named sw1", issue("host-sw1", agentapi.HostAgentOU, "sw1"), map[agentCall]int{
			reportSW1: refused, statusSW1: refused, planSW1: refused, registerCompute1: refused}},
		{"switch agent tor-agent-1 (--agent-switches)", issue("tor-agent-1", agentapi.SwitchAgentOU, "tor-agent-1"), tor1},
		{"switch agent sw1 (DNS SAN)", issue("sw1-san", agentapi.SwitchAgentOU, "tor-agent-9", "sw1"), tor1},
		// Not an agent certificate: noauth decides, and lets a lab's caller act as anyone.
		{"certificate without agent OU", agentClient(t, pki, pki.ClientCert, pki.ClientKey), map[agentCall]int{
			registerCompute2: ok, planCompute2: stream, reportSW2: created, planSW2: stream}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkCalls(t, tc.client, srv.URL, tc.want) })
	}
}

// TestAgentKeystone: with the real Keystone, only a token with the agent
// role (the lab's l2gw service user has "service") reaches the agent
// protocol, for every host and switch; an API admin's and a member's
// tokens get 403, no credentials 401; an agent certificate needs no token.
func TestAgentKeystone(t *testing.T) {
	ks := testenv.StartKeystone(t, 0)
	v, err := keystone.New(keystone.Config{URL: ks.URL, Username: "l2gw", Password: "l2gwpass", Project: "service", CacheTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, agentapi.Config{Keepalive: time.Hour, Authenticator: api.Keystone{V: v}})
	e.seed()
	pki := testenv.NewTLSFiles(t, t.TempDir())
	srv := tlsEnv(t, e, pki)
	anon := agentClient(t, pki, "", "")
	all := func(code int) map[agentCall]int {
		m := map[agentCall]int{}
		for _, c := range everyAgentCall {
			m[c] = code
		}
		return m
	}
	t.Run("no credentials", func(t *testing.T) {
		checkCalls(t, anon, srv.URL, all(http.StatusUnauthorized))
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+agentwire.HostPlanPath("compute1"), nil)
		res, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Keystone uri=") {
			t.Errorf("WWW-Authenticate = %q; want Keystone uri=…", got)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		checkCalls(t, anon, srv.URL, all(http.StatusUnauthorized), "X-Auth-Token", "gAAAAAnotatoken")
	})
	for _, user := range []string{"ADMIN_TOKEN", "DEMO_TOKEN"} {
		t.Run(user, func(t *testing.T) {
			checkCalls(t, anon, srv.URL, all(http.StatusForbidden), "X-Auth-Token", ks.Env[user])
			// The operator's reads under /l2gw/v1 stay the API's: admin only.
			want := map[string]int{"ADMIN_TOKEN": http.StatusOK, "DEMO_TOKEN": http.StatusForbidden}[user]
			if got, typ := (agentCall{"GET", agentwire.SystemStatusPath, ""}).send(t, anon, srv.URL, "X-Auth-Token", ks.Env[user]); got != want {
				t.Errorf("GET %s = %d %s; want %d", agentwire.SystemStatusPath, got, typ, want)
			}
		})
	}
	t.Run("service token", func(t *testing.T) {
		checkCalls(t, anon, srv.URL, map[agentCall]int{
			registerCompute2: http.StatusOK, statusCompute2: http.StatusNoContent, planCompute2: http.StatusOK,
			reportSW1: http.StatusNoContent, statusSW1: http.StatusNoContent, planSW1: http.StatusOK,
		}, "X-Auth-Token", ks.Env["SERVICE_TOKEN"])
	})
	t.Run("host certificate without token", func(t *testing.T) {
		c, k := pki.IssueClientCert(t, "compute1", agentapi.HostAgentOU, "compute1")
		checkCalls(t, agentClient(t, pki, c, k), srv.URL, map[agentCall]int{
			registerCompute1: http.StatusOK, planCompute1: http.StatusOK, registerCompute2: http.StatusForbidden, reportSW1: http.StatusForbidden,
		})
	})
}
