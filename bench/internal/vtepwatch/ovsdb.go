package vtepwatch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// Server is a real ovsdb-server serving a hardware_vtep database on a
// unix socket in its own folder (testenv.RunOVSDBServer), stopped by PID.
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
	o := &Server{dir: dir, db: filepath.Join(dir, "vtep.db"), sock: filepath.Join(dir, testenv.OVSDBSocket)}
	if err := o.create(ctx); err != nil {
		return nil, err
	}
	return o, o.start(ctx)
}

// StartSwitch is Start followed by AddSwitch: a switch that has
// registered itself, ready for an agent. A failed AddSwitch stops the
// server.
func StartSwitch(ctx context.Context, parent, dir, name, tunnelIP string, ports ...string) (*Server, error) {
	o, err := Start(ctx, parent, dir)
	if err != nil {
		return nil, err
	}
	if err := o.AddSwitch(ctx, name, tunnelIP, ports); err != nil {
		o.Stop()
		return nil, err
	}
	return o, nil
}

func (o *Server) create(ctx context.Context) error {
	return testenv.CreateDB(ctx, o.db, testenv.VTEPSchema)
}

func (o *Server) start(ctx context.Context) error {
	pidfile, err := testenv.RunOVSDBServer(ctx, o.dir, nil, o.db)
	o.pidfile = pidfile
	return err
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
	return testenv.AddPhysicalSwitch(ctx, o.Target(), name, tunnelIP, ports...)
}
