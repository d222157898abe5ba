package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/l2gw/l2gw/internal/capool"
)

// TLSConfig makes the server serve HTTPS. CertFile and KeyFile are
// required; the pair is re-read by Reload (l2gw server calls it on SIGHUP)
// so certificates rotate without a restart.
type TLSConfig struct {
	CertFile string // PEM certificate chain, leaf first
	KeyFile  string // PEM private key of the leaf
	// ClientCAFile, when set, asks every client for a certificate and
	// verifies the ones given against these CAs (tls.VerifyClientCertIfGiven):
	// a certificate of another CA fails the handshake, while clients with no
	// certificate still connect and authenticate with a token as before.
	// Handlers find the verified certificate with PeerCertificate. Requiring
	// one (RequireAndVerifyClientCert) would lock out the CLI and token-only
	// agents; it is left to authentication to demand a certificate where
	// it wants one.
	ClientCAFile string
	// Reload, when set, re-reads CertFile and KeyFile each time it
	// receives. A pair that does not load is logged and the previous one
	// kept.
	Reload <-chan struct{}
}

// certStore holds the served certificate, swapped atomically on reload
// and read by every handshake.
type certStore struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// load reads the key pair and, if it is valid, serves it from the next
// handshake on; on error the previous certificate stays.
func (s *certStore) load() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("tls key pair %s, %s: %w", s.certFile, s.keyFile, err)
	}
	s.cert.Store(&c)
	return nil
}

func (s *certStore) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cert.Load(), nil
}

// serverTLS loads cfg's files and returns the server's tls.Config (TLS 1.2
// or later, Go's default cipher suites) and the store Reload swaps.
func serverTLS(cfg *TLSConfig) (*tls.Config, *certStore, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, nil, errors.New("tls: both a certificate and a key file are required")
	}
	cs := &certStore{certFile: cfg.CertFile, keyFile: cfg.KeyFile}
	if err := cs.load(); err != nil {
		return nil, nil, err
	}
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: cs.getCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if cfg.ClientCAFile != "" {
		pool, err := capool.Load(cfg.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tls client CA: %w", err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, cs, nil
}

// reloadTLS re-reads the key pair on every receive from reload until done
// is closed.
func reloadTLS(done <-chan struct{}, reload <-chan struct{}, cs *certStore, log *slog.Logger) {
	for {
		select {
		case <-done:
			return
		case <-reload:
			if err := cs.load(); err != nil {
				log.Error("tls certificate reload failed, keeping the current one", "err", err)
				continue
			}
			leaf := cs.cert.Load().Leaf
			log.Info("tls certificate reloaded", "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
				"not_after", leaf.NotAfter)
		}
	}
}

// PeerCertificate is the client certificate of r verified against the
// server's client CAs (TLSConfig.ClientCAFile), or nil when the client sent
// none or the request did not come over TLS.
func PeerCertificate(r *http.Request) *x509.Certificate {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	return r.TLS.VerifiedChains[0][0]
}
