package testenv

import (
	"strings"
	"testing"
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
