package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// handshake dials addr with conf and returns the serial of the
// certificate the server presented, or the handshake error.
func handshake(addr string, conf *tls.Config) (string, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: conf}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	tc := c.(*tls.Conn)
	// A refused client certificate surfaces on the first read in TLS 1.3.
	if _, err := tc.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 64)
	if _, err := tc.Read(buf); err != nil {
		return "", err
	}
	if !strings.HasPrefix(string(buf), "HTTP/1.1 200") {
		return "", fmt.Errorf("answer %q", buf)
	}
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// TestTLS runs the server over HTTPS with a client CA: clients trusting
// its CA connect with or without a client certificate of the client CA,
// one with a certificate of another CA and one limited to TLS 1.1 are
// refused at the handshake, and Reload serves a new pair from the next
// handshake on while a pair that does not load keeps the old one.
func TestTLS(t *testing.T) {
	files := testenv.NewTLSFiles(t, t.TempDir())
	other := testenv.NewTLSFiles(t, t.TempDir())
	reload := make(chan struct{})
	addr := runServer(t, Config{
		Database: "sqlite://" + filepath.Join(t.TempDir(), "l2gw.db"),
		TLS:      &TLSConfig{CertFile: files.ServerCert, KeyFile: files.ServerKey, ClientCAFile: files.CACert, Reload: reload},
	})

	withClient := files.ClientConfig(t)
	noClient := withClient.Clone()
	noClient.Certificates = nil
	wrongClient := withClient.Clone()
	wrongClient.Certificates = other.ClientConfig(t).Certificates
	tls11 := noClient.Clone()
	tls11.MinVersion, tls11.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	otherCA := other.ClientConfig(t)
	otherCA.Certificates = nil
	for _, tc := range []struct {
		name    string
		conf    *tls.Config
		wantErr string
	}{
		{"no client certificate", noClient, ""},
		{"client certificate of the client CA", withClient, ""},
		{"client certificate of another CA", wrongClient, "certificate"},
		{"TLS 1.1", tls11, "protocol version"},
		{"server certificate of an unknown CA", otherCA, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serial, err := handshake(addr, tc.conf)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("handshake = %v; want success", err)
			case tc.wantErr == "" && serial != "2":
				t.Errorf("served serial = %s; want 2", serial)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("handshake = %v; want an error with %q", err, tc.wantErr)
			}
		})
	}

	files.IssueServerCert(t, 10, files.ServerCert, files.ServerKey)
	reload <- struct{}{}
	testenv.Eventually(t, 10*time.Second, "the new certificate is served", func() (bool, string) {
		serial, err := handshake(addr, noClient)
		return err == nil && serial == "10", fmt.Sprintf("serial %s, err %v", serial, err)
	})
	if err := os.WriteFile(files.ServerCert, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- struct{}{}
	reload <- struct{}{} // returns once the first reload is done
	if serial, err := handshake(addr, noClient); err != nil || serial != "10" {
		t.Errorf("after a bad reload: serial %s, err %v; want the previous certificate (10)", serial, err)
	}
}

// TestPeerCertificate checks handlers see the verified client certificate
// through PeerCertificate, and nil without one.
func TestPeerCertificate(t *testing.T) {
	files := testenv.NewTLSFiles(t, t.TempDir())
	conf, certs, err := serverTLS(&TLSConfig{CertFile: files.ServerCert, KeyFile: files.ServerKey, ClientCAFile: files.CACert})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := PeerCertificate(r); c != nil {
			fmt.Fprint(w, c.Subject.CommonName)
			return
		}
		fmt.Fprint(w, "none")
	}))
	// httptest would add its own certificate, served instead of
	// GetCertificate's to clients that send no server name.
	conf.Certificates = []tls.Certificate{*certs.cert.Load()}
	srv.TLS = conf
	srv.StartTLS()
	defer srv.Close()
	for _, tc := range []struct {
		name string
		cert bool
		want string
	}{
		{"with client certificate", true, "l2gw-agent"},
		{"without", false, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := files.ClientConfig(t)
			if !tc.cert {
				conf.Certificates = nil
			}
			tr := &http.Transport{TLSClientConfig: conf}
			defer tr.CloseIdleConnections()
			if got := get(t, &http.Client{Transport: tr}, srv.URL); got != tc.want {
				t.Errorf("PeerCertificate(r).Subject.CommonName = %q; want %q", got, tc.want)
			}
		})
	}
}
