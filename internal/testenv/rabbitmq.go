package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// rabbitmqServer is Debian's start script (package rabbitmq-server).
const rabbitmqServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// RabbitMQ is a private RabbitMQ broker started by StartRabbitMQ: its own
// node name, its own epmd, every port free-picked on loopback.
type RabbitMQ struct {
	// Port is the AMQP port on 127.0.0.1; URL the oslo.messaging
	// transport URL of user guest on the default vhost.
	Port int
	URL  string
	// TLSPort is the AMQPS port on 127.0.0.1 (StartRabbitMQTLS), 0
	// otherwise.
	TLSPort int

	dir      string
	node     string
	distPort int
	epmdPort int
	epmd     *Proc
	proc     *Proc
}

// StartRabbitMQ runs a throw-away RabbitMQ for the test, in a temp folder,
// listening on 127.0.0.1 only. Erlang's port mapper (epmd) is a private one
// on a free port (ERL_EPMD_PORT), never the shared 4369, so that the test
// neither needs nor disturbs another broker of the machine. Everything is
// stopped by PID at cleanup.
func StartRabbitMQ(t testing.TB) *RabbitMQ {
	t.Helper()
	return startRabbitMQ(t, nil)
}

// StartRabbitMQTLS is StartRabbitMQ with, besides the plain listener, a
// TLS listener (TLSPort) whose server certificate (for 127.0.0.1) a new
// throw-away CA signs; files.CACert is that CA.
func StartRabbitMQTLS(t testing.TB) (r *RabbitMQ, files TLSFiles) {
	t.Helper()
	files = NewTLSFiles(t, t.TempDir())
	return startRabbitMQ(t, &files), files
}

func startRabbitMQ(t testing.TB, tlsFiles *TLSFiles) *RabbitMQ {
	t.Helper()
	if _, err := os.Stat(rabbitmqServer); err != nil {
		Missing(t, rabbitmqServer+" (package rabbitmq-server)")
	}
	epmdBin := RequireCommand(t, "epmd")
	// The node's paths end up in Erlang's argv; keep them short.
	dir, err := os.MkdirTemp("", "l2gw-rmq-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r := &RabbitMQ{dir: dir, Port: freePort(t), distPort: freePort(t), epmdPort: freePort(t)}
	r.node = fmt.Sprintf("l2gwtest-%d@localhost", r.Port)
	r.URL = fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", r.Port)
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users.guest = true\nlog.console = true\nlog.console.level = warning\nlog.file = false\n", r.Port)
	if tlsFiles != nil {
		r.TLSPort = freePort(t)
		conf += fmt.Sprintf("listeners.ssl.default = 127.0.0.1:%d\nssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\nssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n",
			r.TLSPort, tlsFiles.CACert, tlsFiles.ServerCert, tlsFiles.ServerKey)
	}
	for name, body := range map[string]string{"rabbitmq.conf": conf, "enabled_plugins": "[].\n", "rabbitmq-env.conf": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.epmd, err = StartProc(ProcConfig{Name: "epmd", Log: filepath.Join(dir, "epmd.log"), ParentDeathSignal: syscall.SIGKILL, Grace: 5 * time.Second},
		epmdBin, "-port", strconv.Itoa(r.epmdPort), "-address", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.epmd.Stop() })
	r.Start(t)
	t.Cleanup(func() {
		r.Stop(t)
		if t.Failed() && r.proc != nil {
			t.Logf("rabbitmq output:\n%s", r.proc.Logs())
		}
	})
	return r
}

// Start starts the broker (again, after Stop, with the same node, ports and
// data) and waits until it accepts AMQP connections.
func (r *RabbitMQ) Start(t testing.TB) {
	t.Helper()
	env := []string{
		"HOME=" + r.dir,
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(r.dir, "rabbitmq-env.conf"),
		"RABBITMQ_NODENAME=" + r.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(r.Port),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(r.distPort),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(r.dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(r.dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(r.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(r.dir, "log"),
		"RABBITMQ_PID_FILE=" + filepath.Join(r.dir, "rabbitmq.pid"),
		"ERL_EPMD_PORT=" + strconv.Itoa(r.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
		// The script then execs the Erlang VM (no wrapper shell that
		// traps signals): SIGTERM reaches the VM, which stops cleanly.
		"RUNNING_UNDER_SYSTEMD=true",
	}
	p, err := StartProc(ProcConfig{Name: "rabbitmq", Env: env, Log: filepath.Join(r.dir, "rabbitmq.out"),
		ParentDeathSignal: syscall.SIGKILL, Grace: 20 * time.Second}, rabbitmqServer)
	if err != nil {
		t.Fatal(err)
	}
	r.proc = p
	err = Poll(t.Context(), 90*time.Second, func() error {
		if !p.Running() {
			return StopPolling(fmt.Errorf("rabbitmq exited at start: %s", p.Logs()))
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		t.Fatalf("rabbitmq not ready: %v", err)
	}
}

// Stop stops the broker (SIGTERM, the Erlang VM's clean stop) and waits
// for it to exit; Start starts it again.
func (r *RabbitMQ) Stop(t testing.TB) {
	t.Helper()
	if r.proc == nil {
		return
	}
	_ = r.proc.Stop() // a stopped broker's exit status is not interesting
}

// Ctl runs rabbitmqctl against the broker (same node, cookie and epmd)
// and returns its output; a failure fails the test.
func (r *RabbitMQ) Ctl(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "/usr/lib/rabbitmq/bin/rabbitmqctl", append([]string{"-n", r.node}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+r.dir, "ERL_EPMD_PORT="+strconv.Itoa(r.epmdPort), "ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(r.dir, "rabbitmq-env.conf"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v: %s", args, err, out)
	}
	return string(out)
}
