package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/l2pop"
)

// l2popFlags configure the l2pop casts to the compute hosts' Neutron
// agents (--transport-url).
type l2popFlags struct {
	transportURL, cacert string
	reassert             time.Duration
}

func (l *l2popFlags) add(fl *pflag.FlagSet) {
	fl.StringVar(&l.transportURL, "transport-url", "",
		"send l2pop casts to the compute hosts' Neutron L2 agents over this RabbitMQ: rabbit://USER:PASS@HOST:PORT[,USER:PASS@HOST2:PORT]/VHOST[?ssl=1] (oslo.messaging's syntax; prefer env L2GW_TRANSPORT_URL: a flag shows in ps)")
	fl.StringVar(&l.cacert, "transport-cacert", os.Getenv("L2GW_TRANSPORT_CACERT"),
		"with --transport-url …?ssl=1: the CA certificates (PEM) the brokers' certificates are checked against (default the system's; env L2GW_TRANSPORT_CACERT)")
	fl.DurationVar(&l.reassert, "l2pop-reassert-interval", envDuration("L2GW_L2POP_REASSERT_INTERVAL", l2pop.DefaultReassert),
		"with --transport-url: how often every l2pop entry is sent again (0 never; env L2GW_L2POP_REASSERT_INTERVAL)")
}

// config returns the l2pop configuration, nil without --transport-url.
func (l l2popFlags) config() (*l2pop.Config, error) {
	u := l.transportURL
	if u == "" {
		u = os.Getenv("L2GW_TRANSPORT_URL")
	}
	if u == "" {
		if l.cacert != "" {
			return nil, fmt.Errorf("--transport-cacert needs --transport-url")
		}
		return nil, nil
	}
	t, err := l2pop.ParseTransportURL(u)
	if err != nil {
		return nil, fmt.Errorf("--transport-url %s: %w", l2pop.RedactURL(u), err)
	}
	if l.cacert != "" && !t.TLS {
		return nil, fmt.Errorf("--transport-cacert needs TLS: add ?ssl=1 to --transport-url")
	}
	reassert := l.reassert
	if reassert == 0 {
		reassert = -1 // the flag's 0 is "never"
	}
	return &l2pop.Config{TransportURL: u, CACert: l.cacert, Reassert: reassert}, nil
}

// redactedURL is --transport-url for the effective config log.
func (l l2popFlags) redactedURL(c *l2pop.Config) string {
	if c == nil {
		return ""
	}
	return l2pop.RedactURL(c.TransportURL)
}
