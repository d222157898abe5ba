package l2pop

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/agentwire"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// syncBuffer is a log sink safe for the Runner's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestL2PopRestrictedUser checks that the RabbitMQ permissions the README
// gives l2gw's user (configure and write on the two exchanges, read
// nothing) are enough for both fanout and host-targeted casts, and that
// neither a wrong password nor a working one shows in the logs or status.
func TestL2PopRestrictedUser(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	const pw = "s3cr3t-pw"
	rmq.Ctl(t, "add_user", "l2gw", pw)
	ex := "^(q-agent-notifier-l2population-update_fanout|neutron)$"
	rmq.Ctl(t, "set_permissions", "-p", "/", "l2gw", ex, ex, "^$")
	rcv := startReceivers(t, rmq.URL, "compute1")
	url := fmt.Sprintf("rabbit://l2gw:%s@127.0.0.1:%d/", pw, rmq.Port)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// A wrong password first: the error shows, the password does not.
	bad, err := New(newMemSource(model.Inventory{}), Config{TransportURL: strings.Replace(url, pw, "wrong-pw", 1), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = bad.Run(ctx) })
	testenv.Eventually(t, 30*time.Second, "the refused login shows", func() (bool, string) {
		b := bad.SystemStatus().Broker
		return b.Error != "", fmt.Sprintf("%+v", b)
	})
	cancel()
	wg.Wait()

	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	inv := baseInventory(t0)
	inv.Connections = []model.Connection{{ID: "c1", GatewayID: gw1, NetworkID: net1}}
	src := newMemSource(inv)
	r, err := New(src, Config{TransportURL: url, Reassert: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	full := fdb("add", "compute1", flood, [2]string{bm1, "10.0.0.9"})
	testenv.Eventually(t, 30*time.Second, "the fanout cast", func() (bool, string) {
		return len(rcv.all(t)["compute1"]) == 1, "not yet"
	})
	// compute1's agent restarts: the host-targeted cast, on exchange neutron.
	src.Commit(func(inv *model.Inventory) { inv.Hosts[0].Agent.StartedAt = t0.Add(time.Minute) })
	testenv.Eventually(t, 30*time.Second, "the host-targeted cast", func() (bool, string) {
		return len(rcv.all(t)["compute1"]) == 2, "not yet"
	})
	if diff := cmp.Diff([]received{full, full}, rcv.all(t)["compute1"]); diff != "" {
		t.Errorf("casts received (-want +got):\n%s", diff)
	}
	if st := r.NetworkStatus(net1); st.Hosts[0].State != agentwire.StateInSync {
		t.Errorf("compute1's l2pop state = %+v; want in_sync", st.Hosts[0])
	}
	for what, s := range map[string]string{"logs": logs.String(), "status": fmt.Sprintf("%+v %+v", r.SystemStatus(), bad.SystemStatus())} {
		if strings.Contains(s, pw) || strings.Contains(s, "wrong-pw") {
			t.Errorf("the %s show a password:\n%s", what, s)
		}
	}
}

// TestL2PopTLS publishes over AMQPS (?ssl=1) to a real RabbitMQ whose
// certificate a private CA signs: with CACert the casts arrive; without
// it (the system's roots) the certificate is refused and status says so.
func TestL2PopTLS(t *testing.T) {
	rmq, files := testenv.StartRabbitMQTLS(t)
	rcv := startReceivers(t, rmq.URL, "compute1")
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/?ssl=1", rmq.TLSPort)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	inv := baseInventory(t0)
	inv.Connections = []model.Connection{{ID: "c1", GatewayID: gw1, NetworkID: net1}}

	untrusted, err := New(newMemSource(inv), Config{TransportURL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = untrusted.Run(ctx) })
	testenv.Eventually(t, 30*time.Second, "the unknown CA refused", func() (bool, string) {
		b := untrusted.SystemStatus().Broker
		return strings.Contains(b.Error, "certificate"), fmt.Sprintf("%+v", b)
	})
	cancel()
	wg.Wait()

	r, err := New(newMemSource(inv), Config{TransportURL: url, CACert: files.CACert, Reassert: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	testenv.Eventually(t, 30*time.Second, "the cast over TLS", func() (bool, string) {
		return len(rcv.all(t)["compute1"]) == 1, "not yet"
	})
	if diff := cmp.Diff(fdb("add", "compute1", flood, [2]string{bm1, "10.0.0.9"}), rcv.all(t)["compute1"][0]); diff != "" {
		t.Errorf("cast received over TLS (-want +got):\n%s", diff)
	}
	if b := r.SystemStatus().Broker; !b.Connected || b.Broker != fmt.Sprintf("127.0.0.1:%d", rmq.TLSPort) || !strings.HasSuffix(b.TransportURL, "?ssl=1") {
		t.Errorf("broker status = %+v; want connected to the TLS port, ?ssl=1", b)
	}
}

// TestL2PopReassert checks the periodic re-assert: with nothing changing,
// the agents get every entry again each Reassert, and a host that l2pop
// cannot reach is logged once, not at every pass.
func TestL2PopReassert(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	rcv := startReceivers(t, rmq.URL, "compute1")
	inv := baseInventory(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	inv.Connections = []model.Connection{{ID: "c1", GatewayID: gw1, NetworkID: net1}}
	var logs syncBuffer
	r, err := New(newMemSource(inv), Config{TransportURL: rmq.URL, Reassert: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { _ = r.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	testenv.Eventually(t, 30*time.Second, "three re-asserts", func() (bool, string) {
		return len(rcv.all(t)["compute1"]) >= 4, fmt.Sprintf("%d casts", len(rcv.all(t)["compute1"]))
	})
	full := fdb("add", "compute1", flood, [2]string{bm1, "10.0.0.9"})
	for i, got := range rcv.all(t)["compute1"] {
		if diff := cmp.Diff(full, got); diff != "" {
			t.Errorf("cast %d (-want +got):\n%s", i, diff)
		}
	}
	if n := strings.Count(logs.String(), "l2pop cannot reach a host"); n != 1 {
		t.Errorf("logged %d times that compute3 cannot be reached; want once:\n%s", n, logs.String())
	}
}
