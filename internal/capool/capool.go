// Package capool loads the CA certificates a TLS peer is verified
// against (the server's client CAs, the agents' and the CLI's server CAs,
// the CAs of Keystone and of the l2pop transport) from a PEM file. It is
// its own package, free of the store, so the server, the agents and the
// CLI share it.
package capool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns a pool of the certificates in the PEM file at path; a file
// that holds none is an error naming it.
func Load(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return pool, nil
}
