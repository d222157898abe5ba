package l2pop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/l2gw/l2gw/internal/reconcile"
)

// Neutron's notifications (openstack.md section 1): exchange "neutron",
// routing key "notifications.info", when the operator sets
// [oslo_messaging_notifications] driver = messagingv2.
const (
	notificationsExchange = "neutron"
	notificationsKey      = "notifications.info"
)

// ListenNeutron consumes Neutron's notifications on a queue of its own
// (server-named, exclusive, deleted with the connection: it never takes
// messages from another consumer) on the l2pop brokers, and calls hint for
// each network or port event: a hint to read Neutron now, never trusted as
// content (it is the caller's view, and carries its token: never logged).
// It reconnects with a jittered backoff until ctx ends.
func (r *Runner) ListenNeutron(ctx context.Context, hint func()) {
	bo := reconcile.Backoff{Min: 100 * time.Millisecond, Max: 10 * time.Second}
	start := 0
	for {
		err := r.listenOnce(ctx, &start, hint, bo.Reset)
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("neutron notifications lost; changes are found by polling until they are back", "err", err)
		if !reconcile.Sleep(ctx, bo.Next()) {
			return
		}
	}
}

// listenOnce consumes until the connection fails or ctx ends; connected
// is called once the queue is bound.
func (r *Runner) listenOnce(ctx context.Context, start *int, hint func(), connected func()) error {
	var conn *amqp.Connection
	var errs []error
	for i := range r.url.Brokers {
		n := (*start + i) % len(r.url.Brokers)
		c, err := dialConn(ctx, r.url, r.url.Brokers[n], r.tls, "l2gw-neutron-notifications")
		if err == nil {
			conn, *start = c, n
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", r.url.Brokers[n].Host, err))
	}
	if conn == nil {
		return errors.Join(errs...)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	// The flags oslo.messaging declares the control exchange with.
	if err := ch.ExchangeDeclare(notificationsExchange, amqp.ExchangeTopic, false, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", notificationsExchange, err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return fmt.Errorf("declare queue: %w", err)
	}
	if err := ch.QueueBind(q.Name, notificationsKey, notificationsExchange, false, nil); err != nil {
		return fmt.Errorf("bind queue: %w", err)
	}
	msgs, err := ch.Consume(q.Name, "l2gw", true, true, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume: %w", err)
	}
	connected()
	r.log.Info("listening to neutron notifications", "broker", r.url.Brokers[*start].Host)
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-closed:
			return fmt.Errorf("connection closed: %v", e)
		case m, ok := <-msgs:
			if !ok {
				return errors.New("consumer cancelled")
			}
			if inventoryEvent(m.Body) {
				hint()
			}
		}
	}
}

// inventoryEvent reports whether a notification (oslo's 2.0 envelope) is
// about a network or a port.
func inventoryEvent(body []byte) bool {
	var env struct {
		Message string `json:"oslo.message"`
	}
	if json.Unmarshal(body, &env) != nil {
		return false
	}
	var msg struct {
		EventType string `json:"event_type"`
	}
	if json.Unmarshal([]byte(env.Message), &msg) != nil {
		return false
	}
	return strings.HasPrefix(msg.EventType, "port.") || strings.HasPrefix(msg.EventType, "network.")
}
