package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// ksCall sends method path (body when not empty) with token (none when
// empty) and returns the status, the NeutronError type (if any), the
// WWW-Authenticate header and the body.
func ksCall(t *testing.T, base, method, path, token, body string) (int, string, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		NeutronError struct{ Type string } `json:"NeutronError"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.NeutronError.Type, resp.Header.Get("WWW-Authenticate"), b
}

func ksServer(t *testing.T, ks *testenv.Keystone, bin string, cacheTTL string) string {
	t.Helper()
	_, url := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--auth", "keystone",
		"--keystone-url", strings.TrimSuffix(ks.URL, "/v3"), "--service-user", "l2gw",
		"--service-password", "l2gwpass", "--service-project", "service", "--token-cache-ttl", cacheTTL)
	return url
}

// TestKeystone runs l2gw server --auth keystone against a real Keystone:
// the original's 401/403 answers, caching, revocation, the service token's
// renewal and Keystone going away.
func TestKeystone(t *testing.T) {
	ks := testenv.StartKeystone(t, 0)
	bin := testenv.BuildL2GW(t)
	url := ksServer(t, ks, bin, "3s")
	admin, demo := ks.Env["ADMIN_TOKEN"], ks.Env["DEMO_TOKEN"]
	const gws = "/v2.0/l2-gateways"
	create := `{"l2_gateway":{"name":"gw1","devices":[{"device_name":"sw1","interfaces":[{"name":"port1"}]}]}}`

	t.Run("unauthenticated", func(t *testing.T) {
		for _, tok := range []string{"", "not-a-token"} {
			code, typ, www, body := ksCall(t, url, "GET", gws, tok, "")
			if code != 401 || typ != "HTTPUnauthorized" || www != fmt.Sprintf("Keystone uri=%q", ks.URL) {
				t.Errorf("GET %s with token %q = %d %q, WWW-Authenticate %q; want 401 HTTPUnauthorized, Keystone uri=%q\n%s", gws, tok, code, typ, www, ks.URL, body)
			}
		}
	})

	var id string
	t.Run("admin", func(t *testing.T) {
		if code, _, _, body := ksCall(t, url, "GET", gws, admin, ""); code != 200 {
			t.Fatalf("admin list = %d; want 200\n%s", code, body)
		}
		code, _, _, body := ksCall(t, url, "POST", gws, admin, create)
		if code != 201 {
			t.Fatalf("admin create = %d; want 201\n%s", code, body)
		}
		var gw struct {
			L2Gateway struct {
				ID       string `json:"id"`
				TenantID string `json:"tenant_id"`
			} `json:"l2_gateway"`
		}
		if err := json.Unmarshal(body, &gw); err != nil {
			t.Fatal(err)
		}
		id = gw.L2Gateway.ID
		if want := ks.Env["ADMIN_PROJECT_ID"]; gw.L2Gateway.TenantID != want {
			t.Errorf("tenant_id = %q; want the token's project %q", gw.L2Gateway.TenantID, want)
		}
	})

	t.Run("member", func(t *testing.T) {
		for _, c := range []struct{ method, path, body, want string }{
			{"POST", gws, create, "PolicyNotAuthorized"},
			{"GET", gws, "", "AdminRequired"},
			{"GET", gws + "/" + id, "", "AdminRequired"},
			{"PUT", gws + "/" + id, `{"l2_gateway":{"name":"x"}}`, "AdminRequired"},
			{"DELETE", gws + "/" + id, "", "AdminRequired"},
		} {
			if code, typ, _, body := ksCall(t, url, c.method, c.path, demo, c.body); code != 403 || typ != c.want {
				t.Errorf("demo %s %s = %d %q; want 403 %s\n%s", c.method, c.path, code, typ, c.want, body)
			}
		}
	})

	t.Run("revoked", func(t *testing.T) {
		tok, err := ks.Token(t.Context(), "admin", "adminpass", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _, body := ksCall(t, url, "GET", gws, tok, ""); code != 200 {
			t.Fatalf("list with a new admin token = %d\n%s", code, body)
		}
		if err := ks.Revoke(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		testenv.Eventually(t, 10*time.Second, "revoked token refused", func() (bool, string) {
			code, _, _, _ := ksCall(t, url, "GET", gws, tok, "")
			return code == 401, fmt.Sprintf("status %d", code)
		})
		if d := time.Since(revoked); d > 3*time.Second+2*time.Second {
			t.Errorf("revoked token refused after %v; want within the 3 s cache TTL", d)
		}
	})

	t.Run("service token renewed", func(t *testing.T) {
		// Disabling the service user revokes its tokens, the server's
		// included; enabled again, the server must log in anew.
		for _, enabled := range []bool{false, true} {
			if err := ks.SetUserEnabled(t.Context(), ks.Env["L2GW_USER_ID"], enabled); err != nil {
				t.Fatal(err)
			}
		}
		tok, err := ks.Token(t.Context(), "admin", "adminpass", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _, body := ksCall(t, url, "GET", gws, tok, ""); code != 200 {
			t.Errorf("list with a new token after the service token was revoked = %d; want 200\n%s", code, body)
		}
	})

	t.Run("openstack client", func(t *testing.T) {
		testenv.RequireCommand(t, "openstack")
		if err := ks.AddEndpoint(t.Context(), "network", url); err != nil {
			t.Fatal(err)
		}
		osc := func(user string, args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "openstack", args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "LANG=C.UTF-8",
				"OS_AUTH_URL=" + ks.URL, "OS_IDENTITY_API_VERSION=3", "OS_AUTH_TYPE=password",
				"OS_USERNAME=" + user, "OS_PASSWORD=" + user + "pass", "OS_PROJECT_NAME=" + user,
				"OS_USER_DOMAIN_NAME=Default", "OS_PROJECT_DOMAIN_NAME=Default", "OS_REGION_NAME=RegionOne"}
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		if out, err := osc("admin", "l2gw", "list", "-f", "json"); err != nil || !strings.Contains(out, "gw1") {
			t.Errorf("admin: openstack l2gw list = %v\n%s; want gw1 listed", err, out)
		}
		if out, err := osc("demo", "l2gw", "list"); err == nil || !strings.Contains(out, "admin privileges") {
			t.Errorf("demo: openstack l2gw list = %v\n%s; want refused (AdminRequired)", err, out)
		}
	})

	t.Run("keystone down", func(t *testing.T) {
		url := ksServer(t, ks, bin, "5m")
		fresh, err := ks.Token(t.Context(), "admin", "adminpass", "admin")
		if err != nil {
			t.Fatal(err)
		}
		if code, _, _, body := ksCall(t, url, "GET", gws, admin, ""); code != 200 {
			t.Fatalf("list = %d\n%s", code, body)
		}
		ks.Stop(t)
		if code, _, _, body := ksCall(t, url, "GET", gws, admin, ""); code != 200 {
			t.Errorf("cached token with Keystone stopped = %d; want 200\n%s", code, body)
		}
		start := time.Now()
		code, typ, _, body := ksCall(t, url, "GET", gws, fresh, "")
		if code != 503 || typ != "HTTPServiceUnavailable" {
			t.Errorf("new token with Keystone stopped = %d %q; want 503 HTTPServiceUnavailable\n%s", code, typ, body)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("503 took %v; want under 10 s", d)
		}
		t.Logf("new token with Keystone stopped: %d in %v", code, time.Since(start))
	})
}
