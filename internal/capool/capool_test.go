package capool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l2gw/l2gw/internal/testenv"
)

func TestLoad(t *testing.T) {
	files := testenv.NewTLSFiles(t, t.TempDir())
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pool, err := Load(files.CACert); err != nil || pool == nil {
		t.Errorf("Load(the test CA) = %v, %v; want a pool", pool, err)
	}
	for _, tc := range []struct{ name, path, wantErr string }{
		{"missing", filepath.Join(t.TempDir(), "none.pem"), "no such file"},
		{"not PEM", notPEM, notPEM + ": no PEM certificate"},
		{"a key, not a certificate", files.ClientKey, "no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(tc.path); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Load(%s) = %v; want an error containing %q", tc.path, err, tc.wantErr)
			}
		})
	}
}
