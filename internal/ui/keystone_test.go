package ui_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
	"github.com/l2gw/l2gw/internal/ui"
)

// TestStatusPageKeystone runs `l2gw server --auth keystone` against a real
// Keystone: the page's data endpoints answer 401 without a (valid) token,
// 403 to a member, and 200 to an admin, whether the token comes in
// X-Auth-Token or, as the page sends it to EventSource, in its cookie;
// the page itself needs no token.
func TestStatusPageKeystone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Keystone and an l2gw server")
	}
	ks := testenv.StartKeystone(t, 0)
	bin := testenv.BuildL2GW(t)
	_, base := testenv.StartServer(t, bin, "--data-dir", filepath.Join(t.TempDir(), "state"), "--auth", "keystone",
		"--keystone-url", strings.TrimSuffix(ks.URL, "/v3"), "--service-user", "l2gw",
		"--service-password", "l2gwpass", "--service-project", "service")
	admin, demo := ks.Env["ADMIN_TOKEN"], ks.Env["DEMO_TOKEN"]
	if admin == "" || demo == "" {
		t.Fatalf("keystone lab tokens = %q, %q; want ADMIN_TOKEN and DEMO_TOKEN", admin, demo)
	}
	cookie := func(tok string) map[string]string {
		// The page stores it with encodeURIComponent.
		return map[string]string{"Cookie": ui.TokenCookie + "=" + url.PathEscape(tok)}
	}
	for _, path := range []string{"/ui/api/topology", "/ui/api/events"} {
		for _, tc := range []struct {
			name string
			hdr  map[string]string
			want int
		}{
			{"no token", nil, http.StatusUnauthorized},
			{"bad token", map[string]string{"X-Auth-Token": "not-a-token"}, http.StatusUnauthorized},
			{"bad cookie", cookie("not-a-token"), http.StatusUnauthorized},
			{"member", map[string]string{"X-Auth-Token": demo}, http.StatusForbidden},
			{"member cookie", cookie(demo), http.StatusForbidden},
			{"admin", map[string]string{"X-Auth-Token": admin}, http.StatusOK},
			{"admin cookie", cookie(admin), http.StatusOK},
		} {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				code, first := head(t, base+path, tc.hdr)
				if code != tc.want {
					t.Errorf("GET %s = %d %q; want %d", path, code, first, tc.want)
				}
				if code == http.StatusOK && path == "/ui/api/events" && first != "retry: 1000" {
					t.Errorf("GET %s first line = %q; want the event stream", path, first)
				}
			})
		}
	}
	if code, _ := head(t, base+"/ui/", nil); code != http.StatusOK {
		t.Errorf("GET /ui/ without a token = %d; want 200 (the page asks for one)", code)
	}
}

// head sends GET url with hdr and returns the status and the body's
// first line; it does not wait for the rest (an event stream has none).
func head(t *testing.T, url string, hdr map[string]string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	return resp.StatusCode, strings.TrimSpace(line)
}
