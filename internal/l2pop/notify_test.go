package l2pop

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/testenv"
)

// TestListenNeutron consumes Neutron-shaped notifications on a real
// RabbitMQ as a user with only the README's permissions: a port or network
// event hints, a subnet event does not, and the listener comes back after
// the broker restarts.
func TestListenNeutron(t *testing.T) {
	rmq := testenv.StartRabbitMQ(t)
	const pw = "n0tify-pw"
	rmq.Ctl(t, "add_user", "l2gw", pw)
	rw := `^(q-agent-notifier-l2population-update_fanout|neutron|amq\.gen-.*)$`
	rmq.Ctl(t, "set_permissions", "-p", "/", "l2gw", rw, rw, `^(neutron|amq\.gen-.*)$`)
	var logs syncBuffer
	r, err := New(newMemSource(model.Inventory{}), Config{TransportURL: fmt.Sprintf("rabbit://l2gw:%s@127.0.0.1:%d/", pw, rmq.Port),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	var hints atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.ListenNeutron(ctx, func() { hints.Add(1) }) })
	defer func() { cancel(); wg.Wait() }()

	publish := func(event string) error {
		conn, err := amqp.Dial(fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", rmq.Port))
		if err != nil {
			return err
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		inner, _ := json.Marshal(map[string]any{"event_type": event, "payload": map[string]any{}, "_context_auth_token": "tok-secret"})
		body, _ := json.Marshal(map[string]string{"oslo.version": "2.0", "oslo.message": string(inner)})
		return ch.PublishWithContext(t.Context(), notificationsExchange, notificationsKey, false, false,
			amqp.Publishing{ContentType: "application/json", Body: body})
	}
	bound := func() (bool, string) {
		return strings.Count(logs.String(), "listening to neutron notifications") > 0, logs.String()
	}
	testenv.Eventually(t, 30*time.Second, "the queue bound", bound)
	for _, ev := range []string{"subnet.create.end", "port.update.end", "network.delete.end"} {
		if err := publish(ev); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 10*time.Second, "two hints", func() (bool, string) { return hints.Load() == 2, fmt.Sprint(hints.Load()) })
	time.Sleep(200 * time.Millisecond)
	if n := hints.Load(); n != 2 {
		t.Errorf("hints = %d; want 2 (the subnet event is no hint)", n)
	}

	rmq.Stop(t)
	rmq.Start(t)
	testenv.Eventually(t, 60*time.Second, "bound again after the broker restarted", func() (bool, string) {
		return strings.Count(logs.String(), "listening to neutron notifications") == 2, logs.String()
	})
	if err := publish("port.create.end"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "a hint after the restart", func() (bool, string) { return hints.Load() == 3, fmt.Sprint(hints.Load()) })
	if s := logs.String(); strings.Contains(s, "tok-secret") || strings.Contains(s, pw) {
		t.Errorf("the log shows a token or the password:\n%s", s)
	}
}
