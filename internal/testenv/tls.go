package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are the PEM files of a throw-away PKI made by NewTLSFiles: a CA,
// a server certificate for 127.0.0.1 and a client certificate, both signed
// by the CA.
type TLSFiles struct {
	CACert     string // the CA's certificate
	CAKey      string // the CA's private key, for IssueServerCert
	ServerCert string // server certificate (SAN IP 127.0.0.1, localhost)
	ServerKey  string
	ClientCert string // client certificate (CN l2gw-agent)
	ClientKey  string
}

// ClientConfig is a client TLS configuration presenting the client
// certificate and trusting only the CA, as `l2gw switch-agent --ssl-*`
// builds it.
func (f TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		t.Fatalf("client key pair: %v", err)
	}
	b, err := os.ReadFile(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no PEM certificate", f.CACert)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// NewTLSFiles generates a new CA (ECDSA P-256, valid for a day) with a
// server and a client certificate and writes them as PEM files into dir
// (ca.pem, server-cert.pem, server-key.pem, client-cert.pem,
// client-key.pem). Two calls make two unrelated CAs.
func NewTLSFiles(t testing.TB, dir string) TLSFiles {
	t.Helper()
	f, err := newTLSFiles(dir)
	if err != nil {
		t.Fatalf("test PKI: %v", err)
	}
	return f
}

func newTLSFiles(dir string) (TLSFiles, error) {
	f := TLSFiles{
		CACert:     filepath.Join(dir, "ca.pem"),
		CAKey:      filepath.Join(dir, "ca-key.pem"),
		ServerCert: filepath.Join(dir, "server-cert.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client-cert.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "l2gw test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, fmt.Errorf("ca certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, err
	}
	if err := writePEM(f.CACert, "CERTIFICATE", caDER); err != nil {
		return f, err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return f, err
	}
	if err := writePEM(f.CAKey, "PRIVATE KEY", caKeyDER); err != nil {
		return f, err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certPath, keyPath string, ips []net.IP, dns []string) error {
		return writeLeaf(ca, caKey, serial, cn, usage, certPath, keyPath, ips, dns, now.Add(-time.Hour))
	}
	if err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, f.ServerCert, f.ServerKey,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}); err != nil {
		return f, err
	}
	if err := leaf(3, "l2gw-agent", x509.ExtKeyUsageClientAuth, f.ClientCert, f.ClientKey, nil, nil); err != nil {
		return f, err
	}
	return f, nil
}

// writeLeaf writes a certificate signed by ca (key caKey) and its key.
func writeLeaf(ca *x509.Certificate, caKey crypto.Signer, serial int64, cn string, usage x509.ExtKeyUsage,
	certPath, keyPath string, ips []net.IP, dns []string, notBefore time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(25 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("%s certificate: %w", cn, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return err
	}
	return writePEM(keyPath, "PRIVATE KEY", keyDER)
}

// IssueServerCert writes a new server certificate for 127.0.0.1 and
// localhost with serial, signed by f's CA, and its key into certPath and
// keyPath (replacing them: a certificate rotation). Its NotBefore is a
// minute earlier than the files NewTLSFiles made, so it differs from them.
func (f TLSFiles) IssueServerCert(t testing.TB, serial int64, certPath, keyPath string) {
	t.Helper()
	ca, caKey, err := f.loadCA()
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	// Write both into temporary files renamed into place, so a reader
	// never sees a certificate without its key's replacement half-written.
	tmpCert, tmpKey := certPath+".new", keyPath+".new"
	if err := writeLeaf(ca, caKey, serial, "127.0.0.1", x509.ExtKeyUsageServerAuth, tmpCert, tmpKey,
		[]net.IP{net.IPv4(127, 0, 0, 1)}, []string{"localhost"}, time.Now().Add(-time.Hour-time.Minute)); err != nil {
		t.Fatalf("issue server certificate: %v", err)
	}
	if err := os.Rename(tmpKey, keyPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmpCert, certPath); err != nil {
		t.Fatal(err)
	}
}

func (f TLSFiles) loadCA() (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(f.CACert)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(f.CAKey)
	if err != nil {
		return nil, nil, err
	}
	cp, _ := pem.Decode(cb)
	kp, _ := pem.Decode(kb)
	if cp == nil || kp == nil {
		return nil, nil, fmt.Errorf("%s or %s: no PEM block", f.CACert, f.CAKey)
	}
	ca, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		return nil, nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not a signing key", f.CAKey)
	}
	return ca, signer, nil
}

func writePEM(path, typ string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
