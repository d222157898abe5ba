package testenv

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Keystone is a real Keystone (Debian's package under uwsgi) started by
// the lab script start.sh on a free loopback port in a temp dir.
type Keystone struct {
	URL string            // http://127.0.0.1:PORT/v3
	Env map[string]string // tokens.env: ADMIN_TOKEN, DEMO_TOKEN, SERVICE_TOKEN, *_PROJECT_ID, ...
	dir string
}

// sharedScripts is the folder of a lab in ../shared (keystone, original):
// $env, else shared/<lab> beside the repository (as CI lays it out), else
// /work/shared/<lab>.
func sharedScripts(env, lab string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", lab)
		if _, err := os.Stat(filepath.Join(d, "start.sh")); err == nil {
			return d
		}
	}
	return filepath.Join("/work/shared", lab)
}

// keystoneScripts is where Keystone's start.sh and stop.sh live.
func keystoneScripts() string { return sharedScripts("KEYSTONE_SCRIPTS", "keystone") }

// StartKeystone starts Keystone with tokens living ttl (0: the script's
// default, a day) and stops it at cleanup. It needs root and the packages
// keystone, uwsgi-core and uwsgi-plugin-python3 (.ci/run installs them);
// without them it skips, or fails under CI.
func StartKeystone(t testing.TB, ttl time.Duration) *Keystone {
	t.Helper()
	RequireRoot(t)
	dir := keystoneScripts()
	if _, err := os.Stat(filepath.Join(dir, "start.sh")); err != nil {
		Missing(t, "keystone lab scripts: "+err.Error())
	}
	if _, err := os.Stat("/usr/bin/keystone-wsgi-public"); err != nil {
		Missing(t, "keystone not installed")
	}
	k := &Keystone{dir: filepath.Join(t.TempDir(), "keystone")}
	port := freePort(t)
	env := append(os.Environ(), "KEYSTONE_LAB_DIR="+k.dir, "KEYSTONE_PORT="+strconv.Itoa(port))
	if ttl > 0 {
		env = append(env, "KEYSTONE_TOKEN_TTL="+strconv.Itoa(int(ttl.Seconds())))
	}
	t.Cleanup(func() { k.Stop(t) })
	cmd := exec.CommandContext(t.Context(), filepath.Join(dir, "start.sh"))
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("keystone start.sh: %v\n%s", err, out)
	}
	k.Env = map[string]string{}
	b, err := os.ReadFile(filepath.Join(k.dir, "tokens.env"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k2, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k2, "#") {
			k.Env[k2] = v
		}
	}
	k.URL = k.Env["KEYSTONE_URL"]
	return k
}

// Stop stops Keystone (stop.sh signals exactly the PIDs start.sh recorded).
func (k *Keystone) Stop(t testing.TB) {
	t.Helper()
	cmd := exec.Command(filepath.Join(keystoneScripts(), "stop.sh"))
	cmd.Env = append(os.Environ(), "KEYSTONE_LAB_DIR="+k.dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("keystone stop.sh: %v\n%s", err, out)
	}
}

// Token logs user (domain Default) in to project and returns a new token.
func (k *Keystone) Token(ctx context.Context, user, password, project string) (string, error) {
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"password":%q,"domain":{"name":"Default"}}}},"scope":{"project":{"name":%q,"domain":{"name":"Default"}}}}}`, user, password, project)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.URL+"/auth/tokens?nocatalog", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var e json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("keystone login %s: %s %s", user, resp.Status, e)
	}
	return resp.Header.Get("X-Subject-Token"), nil
}

// Revoke revokes token with the admin token.
func (k *Keystone) Revoke(ctx context.Context, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, k.URL+"/auth/tokens", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", k.Env["ADMIN_TOKEN"])
	req.Header.Set("X-Subject-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("revoke token: %s", resp.Status)
	}
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SetUserEnabled enables or disables a user (disabling revokes its tokens).
func (k *Keystone) SetUserEnabled(ctx context.Context, userID string, enabled bool) error {
	return k.admin(ctx, http.MethodPatch, "/users/"+userID, fmt.Sprintf(`{"user":{"enabled":%t}}`, enabled), http.StatusOK, nil)
}

// AddEndpoint registers a service of type typ with a public endpoint url in
// RegionOne in the catalog, as a cloud's installer would for neutron-server.
func (k *Keystone) AddEndpoint(ctx context.Context, typ, url string) error {
	var svc struct {
		Service struct{ ID string } `json:"service"`
	}
	if err := k.admin(ctx, http.MethodPost, "/services", fmt.Sprintf(`{"service":{"type":%q,"name":%q}}`, typ, typ), http.StatusCreated, &svc); err != nil {
		return err
	}
	return k.admin(ctx, http.MethodPost, "/endpoints", fmt.Sprintf(`{"endpoint":{"service_id":%q,"interface":"public","region_id":"RegionOne","url":%q}}`, svc.Service.ID, url), http.StatusCreated, nil)
}

// admin sends body to path with the admin token, wants status back and
// decodes the answer into out (when not nil).
func (k *Keystone) admin(ctx context.Context, method, path, body string, status int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, k.URL+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", k.Env["ADMIN_TOKEN"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
