package vtepwatch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// Server is a real ovsdb-server serving a hardware_vtep database on a
// unix socket in its own folder, stopped by PID.
type Server struct {
	dir, db, sock, pidfile string
}

// Target is the server's OVSDB address, unix:PATH.
func (o *Server) Target() string { return "unix:" + o.sock }

// PID is the running server's process id, from its pidfile.
func (o *Server) PID() (int, error) {
	b, err := os.ReadFile(o.pidfile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(bytes.TrimSpace(b)))
}

// Start creates an empty hardware_vtep database in a new folder under
// parent and serves it. ovsdb-server --detach returns once it listens.
func Start(ctx context.Context, parent, name string) (*Server, error) {
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	o := &Server{dir: dir, db: filepath.Join(dir, "vtep.db"), sock: filepath.Join(dir, "db.sock"),
		pidfile: filepath.Join(dir, "ovsdb-server.pid")}
	if err := o.create(ctx); err != nil {
		return nil, err
	}
	return o, o.start(ctx)
}

func (o *Server) create(ctx context.Context) error {
	os.Remove(o.db)
	if out, err := exec.CommandContext(ctx, "ovsdb-tool", "create", o.db, testenv.VTEPSchema).CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-tool create: %w: %s", err, out)
	}
	return nil
}

func (o *Server) start(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "ovsdb-server", "--remote=punix:"+o.sock, "--pidfile="+o.pidfile,
		"--unixctl="+filepath.Join(o.dir, "ovsdb-server.ctl"), "--log-file="+filepath.Join(o.dir, "ovsdb-server.log"),
		"--detach", "--no-chdir", o.db)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ovsdb-server: %w: %s", err, out)
	}
	return nil
}

// Stop sends SIGTERM to the server's PID and waits until it is gone
// (SIGKILL after 5 s).
func (o *Server) Stop() { testenv.StopPidfile(o.pidfile, 5*time.Second) }

// RestartEmpty stops the server, re-creates its database empty and starts
// it again on the same socket: a switch whose database was wiped.
func (o *Server) RestartEmpty(ctx context.Context) error {
	o.Stop()
	if err := o.create(ctx); err != nil {
		return err
	}
	return o.start(ctx)
}

// AddSwitch creates the Physical_Switch name with its tunnel IP and ports
// in one vtep-ctl transaction, as a switch does when it (re)starts.
func (o *Server) AddSwitch(ctx context.Context, name, tunnelIP string, ports []string) error {
	args := []string{"--db=" + o.Target(), "add-ps", name,
		"--", "set", "Physical_Switch", name, "tunnel_ips=" + tunnelIP}
	for _, p := range ports {
		args = append(args, "--", "add-port", name, p)
	}
	out, err := exec.CommandContext(ctx, "vtep-ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("vtep-ctl add-ps: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}
