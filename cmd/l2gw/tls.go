package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/l2gw/l2gw/internal/capool"
)

// cacertUsage is the help of --cacert.
const cacertUsage = "CA certificate (PEM) that signed the l2gw server's HTTPS certificate (default: the system's CAs; env L2GW_CACERT)"

// clientTLS is the TLS configuration of an l2gw client: TLS 1.2 or later,
// trusting the CAs in cacert (the system's when empty) and presenting the
// certificate in cert and key when both are given.
func clientTLS(cacert, cert, key string) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pool, err := capool.Load(cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		conf.RootCAs = pool
	}
	switch {
	case cert != "" && key != "":
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		conf.Certificates = []tls.Certificate{c}
	case cert != "" || key != "":
		return nil, errors.New("--cert and --key go together")
	}
	return conf, nil
}

// httpTransport is a transport like http.DefaultTransport's with conf.
func httpTransport(conf *tls.Config) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	return tr
}

// addAgentTLSFlags adds an agent's flags for its HTTPS link to the server:
// --cert and --key (its client certificate). --cacert is the root
// command's.
func addAgentTLSFlags(f *pflag.FlagSet) {
	f.String("cert", "", "client certificate (PEM) presented to the l2gw server over HTTPS")
	f.String("key", "", "private key (PEM) of --cert")
}

// sighupReload returns a channel that receives once per SIGHUP until ctx
// is done, for the server's certificate reload, and the function that
// stops listening for SIGHUP. It is set up before the server starts so a
// SIGHUP never takes the default action (exit) once TLS is configured.
func sighupReload(ctx context.Context) (<-chan struct{}, func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	reload := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return reload, func() {
		signal.Stop(hup)
		cancel()
		<-done
	}
}
