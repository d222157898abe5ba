package testenv

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStartOVSDB(t *testing.T) {
	o := StartOVSDB(t, true)
	o.VTEPCtl(t, "add-ps", "sw1")
	o.VTEPCtl(t, "add-port", "sw1", "p1")
	if got := o.VTEPCtl(t, "list-ports", "sw1"); got != "p1" {
		t.Fatalf("list-ports = %q; want p1", got)
	}
	if o.TCPPort == 0 {
		t.Fatal("no TCP port")
	}
	port := o.TCPPort
	o.Restart(t, true)
	if o.TCPPort != port {
		t.Fatalf("port after restart = %d; want %d", o.TCPPort, port)
	}
	if got := o.VTEPCtl(t, "list-ps"); strings.TrimSpace(got) != "" {
		t.Fatalf("list-ps after empty restart = %q; want empty", got)
	}
}

// listDBs sends the RFC 7047 §4.1.1 list_dbs request over a TLS connection
// to the SSL listener made with cfg.
func listDBs(o *OVSDB, cfg *tls.Config) ([]string, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", o.SSLPort), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(c, `{"method":"list_dbs","params":[],"id":1}`); err != nil {
		return nil, err
	}
	var res struct {
		Result []string
		Error  any
	}
	if err := json.NewDecoder(c).Decode(&res); err != nil {
		return nil, err
	}
	return res.Result, nil
}

func TestStartOVSDBTLS(t *testing.T) {
	o, files := StartOVSDBTLS(t)
	if o.SSLPort == 0 || o.TCPPort != 0 {
		t.Fatalf("SSLPort %d, TCPPort %d; want an SSL port only", o.SSLPort, o.TCPPort)
	}
	if want := fmt.Sprintf("ssl:127.0.0.1:%d", o.SSLPort); o.SSLTarget() != want {
		t.Errorf("SSLTarget() = %q; want %q", o.SSLTarget(), want)
	}
	got, err := listDBs(o, files.ClientConfig(t))
	if err != nil || !slices.Contains(got, "hardware_vtep") {
		t.Fatalf("list_dbs over ssl = %v, %v; want hardware_vtep listed", got, err)
	}

	// A client certificate of another CA is refused by the server.
	other := NewTLSFiles(t, t.TempDir())
	cfg := files.ClientConfig(t)
	rogue, err := tls.LoadX509KeyPair(other.ClientCert, other.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = []tls.Certificate{rogue}
	if got, err := listDBs(o, cfg); err == nil {
		t.Errorf("list_dbs with a foreign client certificate = %v; want an error", got)
	}
	// A client that does not trust the server's CA refuses the server.
	if got, err := listDBs(o, other.ClientConfig(t)); err == nil {
		t.Errorf("list_dbs trusting another CA = %v; want an error", got)
	}

	port := o.SSLPort
	o.Restart(t, false)
	if o.SSLPort != port {
		t.Fatalf("SSL port after restart = %d; want %d", o.SSLPort, port)
	}
	if got, err := listDBs(o, files.ClientConfig(t)); err != nil || !slices.Contains(got, "hardware_vtep") {
		t.Fatalf("list_dbs after restart = %v, %v", got, err)
	}
}
