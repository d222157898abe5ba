package docs

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/testenv"
)

func TestParseWalkthroughs(t *testing.T) {
	md := "# t\n" +
		"<!-- not run: runs forever -->\n```sh\nserver\n```\n" +
		"text\n\n<!-- walkthrough: a -->\n\n```sh\none\ntwo\n```\n" +
		"```\nnot a shell block\n```\n" +
		"<!-- walkthrough: b, as root -->\n```sh\nthree\n```\n" +
		"<!-- walkthrough: a -->\n```sh\nfour\n```\n"
	got, err := ParseWalkthroughs(md)
	if err != nil {
		t.Fatal(err)
	}
	want := []Walkthrough{
		{Name: "a", Blocks: []Block{{Line: 11, Lines: []string{"one", "two"}}, {Line: 23, Lines: []string{"four"}}}},
		{Name: "b", Root: true, Blocks: []Block{{Line: 19, Lines: []string{"three"}}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseWalkthroughs() (-want +got):\n%s", diff)
	}
	if s := got[0].Script(); strings.Count(s, "\n") != 23 || !strings.HasPrefix(s, "PS4=") || strings.Split(s, "\n")[10] != "one" || strings.Split(s, "\n")[22] != "four" {
		t.Errorf("Script() puts the commands off their README lines:\n%q", s)
	}

	for _, bad := range []string{
		"```sh\nunmarked\n```\n",
		"<!-- walkthrough: a -->\ntext\n```sh\nx\n```\n",
		"<!-- walkthrough: a -->\n```\nnot shell\n```\n",
		"<!-- walkthrough: a, as admin -->\n```sh\nx\n```\n",
		"<!-- not run: x -->\n```sh\nx\n",
	} {
		if _, err := ParseWalkthroughs(bad); err == nil {
			t.Errorf("ParseWalkthroughs(%q) = nil error; want one", bad)
		}
	}
}

// readmePrereqs are the commands the README's walkthroughs use beyond
// coreutils: .ci/run installs them.
var readmePrereqs = []string{"ovsdb-tool", "ovsdb-server", "vtep-ctl", "ovs-appctl", "jq", "openstack", "ip", "bridge", "ping", "timeout", "openssl", "curl"}

// walkLimit bounds one walkthrough's run.
const walkLimit = 150 * time.Second

// TestREADME runs every walkthrough of the README, as a user following it
// would: l2gw built from this tree and on PATH, in one bash -euo pipefail
// session per walkthrough in the repository root, with a temp dir as TMPDIR
// and HOME, and the server's address (L2GW_BIND, L2GW_URL) on a free port
// rather than the README's default 9696.
func TestREADME(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	walks, err := ParseWalkthroughs(string(md))
	if err != nil {
		t.Fatal(err)
	}
	if len(walks) == 0 {
		t.Fatal("README.md has no walkthrough")
	}
	for _, c := range readmePrereqs {
		testenv.RequireCommand(t, c)
	}
	if _, err := os.Stat("/usr/lib/python3/dist-packages/networking_l2gw"); err != nil {
		testenv.Missing(t, "networking-l2gw client plugin (python3-networking-l2gw) not installed")
	}
	bin := testenv.BuildL2GW(t)
	goEnv := goEnvVars(t)
	for _, w := range walks {
		t.Run(w.Name, func(t *testing.T) {
			if w.Root && os.Geteuid() != 0 {
				testenv.Missing(t, "walkthrough "+w.Name+" needs root")
			}
			runWalkthrough(t, root, w, filepath.Dir(bin), goEnv)
		})
	}
}

// goEnvVars are go's cache and module settings, which the walkthroughs'
// go commands need once HOME is a temp dir.
func goEnvVars(t *testing.T) []string {
	t.Helper()
	goBin := "go"
	if _, err := exec.LookPath("go"); err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	out, err := exec.Command(goBin, "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(vals) != 3 {
		t.Fatalf("go env: %q", out)
	}
	return []string{"GOCACHE=" + vals[0], "GOMODCACHE=" + vals[1], "GOPATH=" + vals[2], "GOTOOLCHAIN=local"}
}

// freePort is a TCP port on loopback nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// labPrefix is the namespace prefix examples/seed-workflow.sh announces.
var labPrefix = regexp.MustCompile(`namespaces (l2gwex[0-9]+-)\*`)

func runWalkthrough(t *testing.T, root string, w Walkthrough, binDir string, goEnv []string) {
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(tmp, w.Name+".sh")
	if err := os.WriteFile(script, []byte(w.Script()), 0o644); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(tmp, w.Name+".out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	cmd := exec.Command("bash", "-euo", "pipefail", "-x", script)
	cmd.Dir = root
	cmd.Env = append([]string{
		"PATH=" + binDir + string(os.PathListSeparator) + "/usr/local/go/bin" + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"LANG=C.UTF-8",
		"L2GW_BIND=" + addr,
		"L2GW_URL=http://" + addr,
	}, goEnv...)
	// A file, not a pipe: background processes that keep the output open
	// must not hold up Wait.
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: the walkthrough's background jobs stay in it,
	// and cleanup stops them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { cleanupWalkthrough(t, pgid, tmp, outPath) })

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(walkLimit):
		stopGroup(pgid)
		runErr = fmt.Errorf("still running after %v: %w", walkLimit, <-done)
	}
	t.Logf("walkthrough %s: %v", w.Name, time.Since(start).Round(time.Millisecond))
	if runErr != nil {
		logs, _ := os.ReadFile(outPath)
		t.Errorf("walkthrough %s (README blocks at lines %s) failed: %v\n%s%s", w.Name, blockLines(w), runErr, logs, tmpLogs(tmp))
	}
}

func blockLines(w Walkthrough) string {
	var l []string
	for _, b := range w.Blocks {
		l = append(l, strconv.Itoa(b.Line))
	}
	return strings.Join(l, ", ")
}

// tmpLogs is the end of every *.log file the walkthrough left in tmp.
func tmpLogs(tmp string) string {
	var b bytes.Buffer
	_ = filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log") {
			return nil
		}
		data, _ := os.ReadFile(p)
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(&b, "---- %s\n%s\n", p, strings.Join(lines, "\n"))
		return nil
	})
	return b.String()
}

// stopGroup stops a process group: SIGTERM (the lab script cleans up on
// it), SIGKILL after 10 s.
func stopGroup(pgid int) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// cleanupWalkthrough removes what a walkthrough may have left, also when
// it failed half-way: its process group (background servers), daemons
// that detached from it (ovsdb-server, found by the pidfiles in tmp whose
// command line names tmp), and the lab's namespaces.
func cleanupWalkthrough(t *testing.T, pgid int, tmp, outPath string) {
	stopGroup(pgid)
	_ = filepath.WalkDir(tmp, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".pid") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || pid <= 1 {
			return nil
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !bytes.Contains(cmdline, []byte(tmp)) {
			return nil
		}
		t.Logf("stopping %s (pid %d) left by the walkthrough", filepath.Base(p), pid)
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return nil
	})
	out, _ := os.ReadFile(outPath)
	for _, m := range labPrefix.FindAllSubmatch(out, -1) {
		list, err := exec.Command("ip", "netns", "list").Output()
		if err != nil {
			return
		}
		for _, l := range strings.Split(string(list), "\n") {
			if ns, _, _ := strings.Cut(l, " "); strings.HasPrefix(ns, string(m[1])) {
				t.Logf("deleting namespace %s left by the walkthrough", ns)
				_ = exec.Command("ip", "netns", "del", ns).Run()
			}
		}
	}
}
