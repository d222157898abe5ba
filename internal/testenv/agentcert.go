package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"testing"
	"time"
)

// IssueClientCert writes a client certificate with subject OU ou and CN
// cn and the DNS names dns, signed by f's CA, and its key, into dir as
// NAME-cert.pem and NAME-key.pem, and returns the two paths. An agent's
// certificate has OU l2gw-host-agent or l2gw-switch-agent (agentapi).
func (f TLSFiles) IssueClientCert(t testing.TB, name, ou, cn string, dns ...string) (certPath, keyPath string) {
	t.Helper()
	ca, caKey, err := f.loadCA()
	if err != nil {
		t.Fatalf("test CA: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	subject := pkix.Name{CommonName: cn}
	if ou != "" {
		subject.OrganizationalUnit = []string{ou}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("%s certificate: %v", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(f.CACert)
	certPath, keyPath = filepath.Join(dir, name+"-cert.pem"), filepath.Join(dir, name+"-key.pem")
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		t.Fatal(err)
	}
	if err := writePEM(keyPath, "PRIVATE KEY", keyDER); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}
