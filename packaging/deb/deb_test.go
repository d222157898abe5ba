package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/l2gw/l2gw/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// need skips the test when a program is missing, or fails it in CI.
func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v", prog, err)
		}
		t.Skipf("%s: %v", prog, err)
	}
	return p
}

// TestDebInstall builds the .deb (go run ./packaging/deb) with the test binary of l2gw, installs it with
// dpkg into an empty root (chrootless maintainer scripts, which skip the
// user creation and systemctl when DPKG_ROOT is set) and checks what landed
// there: the binary runs, the units are valid, the conffiles, completions
// and man pages are in place.
func TestDebInstall(t *testing.T) {
	need(t, "dpkg")
	// The builder runs as its own program, as in CI (go run ./packaging/deb):
	// compressing the package inside this -race test binary takes minutes.
	// It builds the binary itself, stamping the package's version.
	builder := filepath.Join(t.TempDir(), "deb")
	run(t, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", builder, ".")
	debFile := run(t, builder, "-o", t.TempDir(), "-version", "1.2.3", "-arch", runtime.GOARCH)
	if got, want := filepath.Base(debFile), "l2gw_1.2.3_"+runtime.GOARCH+".deb"; got != want {
		t.Errorf("package file %s; want %s", got, want)
	}

	root := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "dpkg", "--root="+root, "--force-not-root", "--force-script-chrootless", "--log=/dev/null", "-i", debFile)
	if got := run(t, "dpkg-query", "--root="+root, "-W", "-f=${Status} ${Version}", "l2gw"); got != "install ok installed 1.2.3" {
		t.Errorf("dpkg-query -W l2gw = %q; want %q", got, "install ok installed 1.2.3")
	}

	modes := map[string]os.FileMode{
		"usr/bin/l2gw": 0o755,
		"usr/lib/systemd/system/l2gw-server.service":       0o644,
		"usr/lib/systemd/system/l2gw-switch-agent.service": 0o644,
		"usr/lib/systemd/system/l2gw-host-agent.service":   0o644,
		"usr/lib/systemd/system/l2gw-soft-vtep@.service":   0o644,
		"usr/lib/sysusers.d/l2gw.conf":                     0o644,
		"etc/l2gw/server.env":                              0o640,
		"etc/l2gw/switch-agent.env":                        0o640,
		"etc/l2gw/host-agent.env":                          0o640,
		"etc/l2gw/soft-vtep.env":                           0o640,
		"usr/share/bash-completion/completions/l2gw":       0o644,
		"usr/share/zsh/vendor-completions/_l2gw":           0o644,
		"usr/share/fish/vendor_completions.d/l2gw.fish":    0o644,
		"usr/share/man/man1/l2gw.1.gz":                     0o644,
		"usr/share/man/man1/l2gw-server.1.gz":              0o644,
		"usr/share/man/man1/l2gw-switch-agent.1.gz":        0o644,
		"usr/share/man/man1/l2gw-host-agent.1.gz":          0o644,
		"usr/share/man/man1/l2gw-soft-vtep.1.gz":           0o644,
	}
	for f, want := range modes {
		fi, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Errorf("installed file: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("/%s mode %v; want %v", f, got, want)
		}
	}
	conffiles, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/l2gw.conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"/etc/l2gw/server.env", "/etc/l2gw/switch-agent.env", "/etc/l2gw/host-agent.env", "/etc/l2gw/soft-vtep.env"} {
		if !bytes.Contains(conffiles, []byte(f+"\n")) {
			t.Errorf("%s is not a conffile:\n%s", f, conffiles)
		}
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/info/l2gw."+s)); err != nil {
			t.Errorf("maintainer script: %v", err)
		}
	}

	if got := run(t, filepath.Join(root, "usr/bin/l2gw"), "--version"); !strings.HasPrefix(got, "l2gw v1.2.3 (revision ") || !strings.Contains(got, ", go1.") {
		t.Errorf("installed l2gw --version = %q; want l2gw v1.2.3 (revision …, go…): the package's version", got)
	}
	bashComp, err := os.ReadFile(filepath.Join(root, "usr/share/bash-completion/completions/l2gw"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(bashComp, []byte("__start_l2gw")) {
		t.Errorf("bash completion does not define __start_l2gw")
	}
	man := run(t, "sh", "-c", "gzip -dc "+filepath.Join(root, "usr/share/man/man1/l2gw-server.1.gz"))
	if !strings.Contains(man, `.TH "L2GW" "1"`) || !strings.Contains(man, "data-dir") {
		t.Errorf("l2gw-server.1 is not the man page of l2gw server:\n%.400s", man)
	}

	checkUnits(t, root)

	// What the target system's systemd-sysusers makes of the package's entry.
	if _, err := exec.LookPath("systemd-sysusers"); err == nil {
		run(t, "systemd-sysusers", "--root="+root)
		passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^l2gw:x:\d+:\d+:[^:]*:/var/lib/l2gw:/usr/sbin/nologin$`).Match(passwd) {
			t.Errorf("systemd-sysusers made no l2gw system user:\n%s", passwd)
		}
	}
}

// TestPostinst runs the maintainer script postinst on this system's path
// with stand-ins of the commands it calls, which record their arguments.
func TestPostinst(t *testing.T) {
	script, err := packaged.ReadFile("files/scripts/postinst")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stubs []string // commands that exist
		want  string   // the calls, one a line
	}{
		{"sysusers", []string{"systemd-sysusers", "getent", "adduser"}, "systemd-sysusers l2gw.conf\n"},
		{"adduser", []string{"getent", "adduser"}, "getent passwd l2gw\nadduser --system --group --home /var/lib/l2gw --no-create-home l2gw\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			for _, stub := range tt.stubs {
				// getent finds no user (status 2), as on a fresh system.
				body := fmt.Sprintf("#!/bin/sh\necho %s \"$@\" >> %s\n", stub, calls)
				if stub == "getent" {
					body += "exit 2\n"
				}
				if err := os.WriteFile(filepath.Join(dir, stub), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			f := filepath.Join(dir, "postinst")
			if err := os.WriteFile(f, script, 0o755); err != nil {
				t.Fatal(err)
			}
			sh := need(t, "sh")
			cmd := exec.Command(sh, f, "configure")
			// Only the stand-ins and the shell's own builtins: no real
			// adduser or systemctl may run.
			cmd.Env = []string{"PATH=" + dir}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("postinst configure: %v\n%s", err, out)
			}
			got, _ := os.ReadFile(calls)
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("postinst calls (-want +got):\n%s", diff)
			}
		})
	}
}

// checkUnits checks the installed units' keys that make them work and keep
// them hardened, and runs systemd-analyze verify on them when it is there.
func checkUnits(t *testing.T, root string) {
	dir := filepath.Join(root, "usr/lib/systemd/system")
	hardened := map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"SystemCallArchitectures": "native", "Restart": "on-failure",
	}
	tests := []struct {
		unit, sub, user, caps, env string
	}{
		{"l2gw-server.service", "server", "l2gw", "", "/etc/l2gw/server.env"},
		{"l2gw-switch-agent.service", "switch-agent", "l2gw", "", "/etc/l2gw/switch-agent.env"},
		{"l2gw-host-agent.service", "host-agent", "l2gw", "CAP_NET_ADMIN", "/etc/l2gw/host-agent.env"},
		{"l2gw-soft-vtep@.service", "soft-vtep", "l2gw", "CAP_NET_ADMIN", "/etc/l2gw/soft-vtep.env"},
	}
	for _, tt := range tests {
		t.Run(tt.unit, func(t *testing.T) {
			keys := parseUnit(t, filepath.Join(dir, tt.unit))
			want := map[string]string{
				"Service.ExecStart":             "/usr/bin/l2gw " + tt.sub,
				"Service.User":                  tt.user,
				"Service.CapabilityBoundingSet": tt.caps,
				"Install.WantedBy":              "multi-user.target",
			}
			if tt.user != "" {
				want["Service.Group"] = tt.user
				want["Service.AmbientCapabilities"] = tt.caps // exactly what it may keep
			}
			if tt.sub == "server" {
				want["Service.StateDirectory"] = "l2gw"
				want["Service.Environment"] = "L2GW_DATA_DIR=/var/lib/l2gw"
			}
			for k, v := range hardened {
				want["Service."+k] = v
			}
			for k, v := range want {
				if got := strings.Join(keys[k], " "); got != v {
					t.Errorf("%s %s = %q; want %q", tt.unit, k, got, v)
				}
			}
			var envOK bool
			for _, f := range keys["Service.EnvironmentFile"] {
				envOK = envOK || f == "-"+tt.env
				if _, err := os.Stat(filepath.Join(root, strings.TrimPrefix(f, "-"))); err != nil && !strings.Contains(f, "%i") {
					t.Errorf("%s EnvironmentFile=%s: %v", tt.unit, f, err)
				}
			}
			if !envOK {
				t.Errorf("%s EnvironmentFile = %q; want -%s among them", tt.unit, keys["Service.EnvironmentFile"], tt.env)
			}
		})
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze not installed: units checked by their keys only")
		return
	}
	out, err := exec.Command(analyze, "verify", "--man=no", "--recursive-errors=no", "--root="+root,
		"l2gw-server.service", "l2gw-switch-agent.service", "l2gw-host-agent.service", "l2gw-soft-vtep@sw1.service").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// parseUnit reads a systemd unit file into "Section.Key" -> values, in
// order, and fails the test on a line that is no section, key=value or
// comment.
func parseUnit(t *testing.T, file string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			if section != "Unit" && section != "Service" && section != "Install" {
				t.Errorf("%s:%d: unexpected section [%s]", file, n, section)
			}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Errorf("%s:%d: not key=value in a section: %q", file, n, line)
				continue
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

// TestServerNonRoot starts the server as the unprivileged user nobody, as
// l2gw-server.service runs it as l2gw, with a data directory owned by that
// user, and checks that it serves /healthz and keeps its database there.
func TestServerNonRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a process as another user")
	}
	const nobody = 65534
	bin := testenv.BuildL2GW(t)
	dir := t.TempDir()
	// t.TempDir's folders are 0700: let nobody through to its data directory.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "l2gw")
	if err := os.Mkdir(data, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	p, err := testenv.StartProc(testenv.ProcConfig{
		Name: "l2gw server (nobody)", DropEnv: "L2GW_", ParentDeathSignal: syscall.SIGKILL,
		Credential: &syscall.Credential{Uid: nobody, Gid: nobody},
	}, bin, "server", "--bind", "127.0.0.1:0", "--data-dir", data)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", p.Logs())
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	addr, err := p.Addr(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	if err := testenv.WaitHealthy(ctx, hc, "http://"+addr, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(data, "l2gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != nobody {
		t.Errorf("l2gw.db owner uid %d; want %d (nobody)", uid, nobody)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("server stop: %v", err)
	}
}

// run runs a command and returns its trimmed stdout, failing the test on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return strings.TrimSpace(string(out))
}
