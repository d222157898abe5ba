package l2pop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// cast is one message to publish: to the fanout exchange (Host empty) or
// to one host's queue on the control exchange.
type cast struct {
	Host   string
	Method string
	Body   []byte
}

// publisher holds one AMQP connection and a channel in confirm mode.
type publisher struct {
	conn   *amqp.Connection
	ch     *amqp.Channel
	broker string // host:port it is connected to
	// exchange is the control exchange host-targeted casts go to.
	exchange string
}

// dial connects to the first broker of u that answers, in turn from
// start, and declares the exchanges the casts go to. It returns the
// index of the broker it reached.
func dial(ctx context.Context, u TransportURL, tlsConf *tls.Config, exchange string, start int) (*publisher, int, error) {
	var errs []error
	for i := range u.Brokers {
		n := (start + i) % len(u.Brokers)
		b := u.Brokers[n]
		p, err := dialOne(ctx, u, b, tlsConf, exchange)
		if err == nil {
			return p, n, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.Host, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, start, errors.Join(errs...)
}

func dialOne(ctx context.Context, u TransportURL, b Broker, tlsConf *tls.Config, exchange string) (*publisher, error) {
	conn, err := dialConn(ctx, u, b, tlsConf, "l2gw-l2pop")
	if err != nil {
		return nil, err
	}
	p := &publisher{conn: conn, broker: b.Host, exchange: exchange}
	if err := p.openChannel(); err != nil {
		conn.Close()
		return nil, err
	}
	// The flags oslo.messaging's rabbit driver declares them with: a
	// mismatch would close the channel (PRECONDITION_FAILED), so an
	// exchange that exists with other flags is taken as it is.
	if err := p.declare(FanoutExchange, amqp.ExchangeFanout, false, true); err != nil {
		conn.Close()
		return nil, err
	}
	if err := p.declare(exchange, amqp.ExchangeTopic, false, false); err != nil {
		conn.Close()
		return nil, err
	}
	return p, nil
}

func (p *publisher) openChannel() error {
	ch, err := p.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return fmt.Errorf("confirm mode: %w", err)
	}
	p.ch = ch
	return nil
}

func (p *publisher) declare(name, kind string, durable, autoDelete bool) error {
	err := p.ch.ExchangeDeclare(name, kind, durable, autoDelete, false, false, nil)
	var aerr *amqp.Error
	if err == nil || !errors.As(err, &aerr) || aerr.Code != amqp.PreconditionFailed {
		if err != nil {
			return fmt.Errorf("declare exchange %s: %w", name, err)
		}
		return nil
	}
	// The channel is closed by the refusal: a new one, and a passive
	// declare that only checks the exchange exists.
	if err := p.openChannel(); err != nil {
		return err
	}
	if err := p.ch.ExchangeDeclarePassive(name, kind, durable, autoDelete, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s (passive): %w", name, err)
	}
	return nil
}

// closed reports whether the connection or its channel is gone.
func (p *publisher) closed() bool { return p.conn.IsClosed() || p.ch.IsClosed() }

func (p *publisher) close() { _ = p.conn.Close() }

// publish sends the casts and waits until the broker has confirmed every
// one: what it reports sent, the broker holds (an agent's queue, or no
// queue at all when no agent listens: mandatory is off, zero agents is
// not an error).
func (p *publisher) publish(ctx context.Context, casts []cast) error {
	dcs := make([]*amqp.DeferredConfirmation, 0, len(casts))
	for _, c := range casts {
		ex, key := FanoutExchange, ""
		if c.Host != "" {
			ex, key = p.exchange, Topic+"."+c.Host
		}
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, ex, key, false, false, amqp.Publishing{
			ContentType:     "application/json",
			ContentEncoding: "utf-8",
			DeliveryMode:    amqp.Persistent,
			Body:            c.Body,
		})
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		dcs = append(dcs, dc)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, dc := range dcs {
		ok, err := dc.WaitContext(wctx)
		if err != nil {
			return fmt.Errorf("wait for the broker's confirm: %w", err)
		}
		if !ok {
			return errors.New("the broker refused a cast (nack)")
		}
	}
	return nil
}

// dialConn opens an AMQP connection to broker b of u, named name in the
// broker's management view.
func dialConn(ctx context.Context, u TransportURL, b Broker, tlsConf *tls.Config, name string) (*amqp.Connection, error) {
	scheme := "amqp"
	cfg := amqp.Config{
		SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: b.User, Password: b.Password}},
		Vhost:      u.VHost,
		Heartbeat:  10 * time.Second,
		Properties: amqp.Table{"product": "l2gw", "connection_name": name},
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 10 * time.Second}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the TLS and AMQP handshakes; amqp091 clears it after.
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			return c, nil
		},
	}
	if u.TLS {
		scheme = "amqps"
		cfg.TLSClientConfig = tlsConf
		if cfg.TLSClientConfig == nil {
			cfg.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if cfg.TLSClientConfig.ServerName == "" {
			c := cfg.TLSClientConfig.Clone()
			c.ServerName, _, _ = net.SplitHostPort(b.Host)
			cfg.TLSClientConfig = c
		}
	}
	return amqp.DialConfig(scheme+"://"+b.Host+"/", cfg)
}
