package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// The emulated switch: what `vtep-ctl add-ps`/`add-port` would create on a
// real one.
const (
	switchName = "gatewayhost"
	switchIP   = "192.0.2.1"
)

var switchPorts = []string{"port1", "port2"}

// ovsdbServer is a real ovsdb-server serving a hardware_vtep database on a
// unix socket in its own folder, stopped by PID.
type ovsdbServer struct {
	dir, db, sock, pidfile string
}

func (o *ovsdbServer) target() string { return "unix:" + o.sock }

// startOVSDB creates an empty hardware_vtep database in a new folder under
// parent and serves it. ovsdb-server --detach returns once it listens.
func startOVSDB(ctx context.Context, parent, name string) (*ovsdbServer, error) {
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &ovsdbServer{dir: dir, db: filepath.Join(dir, "vtep.db"), sock: filepath.Join(dir, "db.sock"),
		pidfile: filepath.Join(dir, "ovsdb-server.pid")}
	if err := o.create(ctx); err != nil {
		return nil, err
	}
	return o, o.start(ctx)
}

func (o *ovsdbServer) create(ctx context.Context) error {
	os.Remove(o.db)
	if out, err := exec.CommandContext(ctx, "ovsdb-tool", "create", o.db, testenv.VTEPSchema).CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-tool create: %w: %s", err, out)
	}
	return nil
}

func (o *ovsdbServer) start(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "ovsdb-server", "--remote=punix:"+o.sock, "--pidfile="+o.pidfile,
		"--unixctl="+filepath.Join(o.dir, "ovsdb-server.ctl"), "--log-file="+filepath.Join(o.dir, "ovsdb-server.log"),
		"--detach", "--no-chdir", o.db)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-server: %w: %s", err, out)
	}
	return nil
}

// stop sends SIGTERM to the server's PID and waits until it is gone
// (SIGKILL after 5 s).
func (o *ovsdbServer) stop() { testenv.StopPidfile(o.pidfile, 5*time.Second) }

// restartEmpty stops the server, re-creates its database empty and starts
// it again on the same socket: a switch whose database was wiped.
func (o *ovsdbServer) restartEmpty(ctx context.Context) error {
	o.stop()
	if err := o.create(ctx); err != nil {
		return err
	}
	return o.start(ctx)
}

// addSwitch creates the Physical_Switch with its tunnel IP and ports in one
// vtep-ctl transaction, as a switch does when it (re)starts.
func (o *ovsdbServer) addSwitch(ctx context.Context) error {
	args := []string{"--db=" + o.target(), "add-ps", switchName,
		"--", "set", "Physical_Switch", switchName, "tunnel_ips=" + switchIP}
	for _, p := range switchPorts {
		args = append(args, "--", "add-port", switchName, p)
	}
	out, err := exec.CommandContext(ctx, "vtep-ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("vtep-ctl add-ps: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
