package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// VTEPSchema is Debian's hardware_vtep schema (package openvswitch-vtep).
const VTEPSchema = "/usr/share/openvswitch/vtep.ovsschema"

// OVSDB is a running ovsdb-server serving a hardware_vtep database.
type OVSDB struct {
	Dir     string // temp folder holding the db, socket, pidfile and log
	DBPath  string
	Socket  string // unix socket path
	TCPPort int    // loopback TCP port, 0 when not asked for
	SSLPort int    // loopback SSL port (StartOVSDBTLS), 0 otherwise
	tls     *TLSFiles
	pidfile string
}

// UnixTarget is the OVSDB connection string of the unix socket.
func (o *OVSDB) UnixTarget() string { return "unix:" + o.Socket }

// TCPTarget is the OVSDB connection string of the loopback TCP listener.
func (o *OVSDB) TCPTarget() string { return fmt.Sprintf("tcp:127.0.0.1:%d", o.TCPPort) }

// SSLTarget is the OVSDB connection string of the loopback SSL listener.
func (o *OVSDB) SSLTarget() string { return fmt.Sprintf("ssl:127.0.0.1:%d", o.SSLPort) }

// StartOVSDB creates an empty hardware_vtep database in a new temp folder and
// serves it with a real ovsdb-server on a unix socket (and on a loopback TCP
// port when tcp is true). The server is stopped by PID at cleanup.
func StartOVSDB(t testing.TB, tcp bool) *OVSDB {
	t.Helper()
	return startOVSDB(t, tcp, false)
}

// StartOVSDBTLS is StartOVSDB with, instead of TCP, a loopback SSL listener
// (ovsdb-server --remote=pssl:0:127.0.0.1) using a new throw-away PKI
// (NewTLSFiles) written into the server's folder. ovsdb-server requires
// clients to present a certificate signed by files.CACert. vtep-ctl and
// ovsdb-client keep using the unix socket.
func StartOVSDBTLS(t testing.TB) (o *OVSDB, files TLSFiles) {
	t.Helper()
	o = startOVSDB(t, false, true)
	return o, *o.tls
}

func startOVSDB(t testing.TB, tcp, ssl bool) *OVSDB {
	t.Helper()
	RequireCommand(t, "ovsdb-server")
	RequireCommand(t, "ovsdb-tool")
	if _, err := os.Stat(VTEPSchema); err != nil {
		Missing(t, VTEPSchema+" (package openvswitch-vtep)")
	}
	// Unix socket paths must stay under 108 bytes; t.TempDir() can be long.
	dir, err := os.MkdirTemp("", "l2gw-ovsdb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	o := &OVSDB{Dir: dir, DBPath: filepath.Join(dir, "vtep.db"), Socket: filepath.Join(dir, OVSDBSocket)}
	if err := CreateDB(t.Context(), o.DBPath, VTEPSchema); err != nil {
		t.Fatal(err)
	}
	if ssl {
		f := NewTLSFiles(t, dir)
		o.tls = &f
	}
	o.start(t, tcp)
	t.Cleanup(func() {
		o.Stop()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(o.Dir, "ovsdb-server.log")); err == nil {
				t.Logf("ovsdb-server.log:\n%s", b)
			}
		}
	})
	return o
}

// OVSDBSocket is the name of the unix socket RunOVSDBServer serves on, in
// its folder.
const OVSDBSocket = "db.sock"

// CreateDB creates an empty OVSDB database of schema at path, replacing
// any file there.
func CreateDB(ctx context.Context, path, schema string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if out, err := exec.CommandContext(ctx, "ovsdb-tool", "create", path, schema).CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-tool create %s: %w: %s", path, err, bytes.TrimSpace(out))
	}
	return nil
}

// RunOVSDBServer starts a detached ovsdb-server serving dbs on the unix
// socket dir/OVSDBSocket (plus the remotes and options in extra), with its
// pidfile, control socket and log in dir, and returns the pidfile; stop it
// with StopPidfile. ovsdb-server --detach returns once it listens. Tests,
// benchmarks and the e2e lab all start their switches' databases here.
func RunOVSDBServer(ctx context.Context, dir string, extra []string, dbs ...string) (pidfile string, err error) {
	pidfile = filepath.Join(dir, "ovsdb-server.pid")
	args := append([]string{
		"--remote=punix:" + filepath.Join(dir, OVSDBSocket),
		"--pidfile=" + pidfile,
		"--unixctl=" + filepath.Join(dir, "ovsdb-server.ctl"),
		"--log-file=" + filepath.Join(dir, "ovsdb-server.log"),
		"--detach", "--no-chdir",
	}, extra...)
	args = append(args, dbs...)
	if out, err := exec.CommandContext(ctx, "ovsdb-server", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ovsdb-server in %s: %w: %s", dir, err, bytes.TrimSpace(out))
	}
	return pidfile, nil
}

// AddPhysicalSwitch creates the Physical_Switch name with its tunnel IP
// and ports in one vtep-ctl transaction on the database at target, as a
// switch does when it (re)starts.
func AddPhysicalSwitch(ctx context.Context, target, name, tunnelIP string, ports ...string) error {
	args := []string{"--db=" + target, "add-ps", name,
		"--", "set", "Physical_Switch", name, "tunnel_ips=" + tunnelIP}
	for _, p := range ports {
		args = append(args, "--", "add-port", name, p)
	}
	if out, err := exec.CommandContext(ctx, "vtep-ctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("vtep-ctl add-ps %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

var listeningPort = regexp.MustCompile(`listening on port (\d+)`)

func (o *OVSDB) start(t testing.TB, tcp bool) {
	t.Helper()
	logPath := filepath.Join(o.Dir, "ovsdb-server.log")
	var args []string
	if tcp {
		port := "0"
		if o.TCPPort != 0 {
			port = strconv.Itoa(o.TCPPort) // restart keeps the port
		}
		args = append(args, "--remote=ptcp:"+port+":127.0.0.1")
	}
	// ovsdb-server logs TCP and SSL listeners alike ("0:127.0.0.1:
	// listening on port N"), so a server has one or the other, never both.
	if o.tls != nil {
		args = append(args, "--remote=pssl:"+strconv.Itoa(o.SSLPort)+":127.0.0.1",
			"--private-key="+o.tls.ServerKey, "--certificate="+o.tls.ServerCert, "--ca-cert="+o.tls.CACert)
	}
	before, _ := os.ReadFile(logPath)
	pidfile, err := RunOVSDBServer(t.Context(), o.Dir, args, o.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	o.pidfile = pidfile
	portOf := &o.TCPPort
	if o.tls != nil {
		portOf = &o.SSLPort
	}
	if (!tcp && o.tls == nil) || *portOf != 0 {
		return
	}
	err = Poll(t.Context(), 5*time.Second, func() error {
		b, _ := os.ReadFile(logPath)
		m := listeningPort.FindSubmatch(bytes.TrimPrefix(b, before))
		if m == nil {
			return errors.New("no listening port logged")
		}
		*portOf, _ = strconv.Atoi(string(m[1]))
		return nil
	})
	if err != nil {
		t.Fatalf("ovsdb-server in %s: %v", logPath, err)
	}
}

// Stop stops the server (SIGTERM by PID, SIGKILL 5 s later) and waits
// until it has exited.
func (o *OVSDB) Stop() { StopPidfile(o.pidfile, 5*time.Second) }

// Restart stops the server and starts it again on the same database, socket
// and TCP (or SSL) port. With empty, the database is re-created empty first.
func (o *OVSDB) Restart(t testing.TB, empty bool) {
	t.Helper()
	o.Stop()
	if empty {
		if err := CreateDB(t.Context(), o.DBPath, VTEPSchema); err != nil {
			t.Fatal(err)
		}
	}
	o.start(t, o.TCPPort != 0)
}

// VTEPCtl runs vtep-ctl against the database and returns its trimmed output.
func (o *OVSDB) VTEPCtl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("vtep-ctl", append([]string{"--db=" + o.UnixTarget()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("vtep-ctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
