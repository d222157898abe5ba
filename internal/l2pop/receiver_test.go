package l2pop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// received is one fdb_add / fdb_remove a recording agent's
// L2populationRpcCallBackMixin made.
type received struct {
	Host   string
	Method string // add, remove, update
	FDB    map[string]wireNet
}

type wireNet struct {
	SegmentID   int                    `json:"segment_id"`
	NetworkType string                 `json:"network_type"`
	Ports       map[string][][2]string `json:"ports"`
}

// receivers are real oslo.messaging RPC servers with neutron's
// L2populationRpcCallBackMixin (testdata/l2pop-receiver.py), one per
// fake compute host, recording what they get.
type receivers struct {
	out  string
	proc *testenv.Proc
}

func startReceivers(t *testing.T, url string, hosts ...string) *receivers {
	t.Helper()
	return startReceiversTB(t, url, hosts...)
}

func startReceiversTB(t testing.TB, url string, hosts ...string) *receivers {
	t.Helper()
	// Debian's Python, where python3-neutron installs (not a python3 earlier on PATH).
	py := "/usr/bin/python3"
	if _, err := os.Stat("/usr/lib/python3/dist-packages/neutron/plugins/ml2/drivers/l2pop/rpc_manager/l2population_rpc.py"); err != nil {
		testenv.Missing(t, "neutron's l2pop RPC mixin (package python3-neutron)")
	}
	out := filepath.Join(t.TempDir(), "received.jsonl")
	script, _ := filepath.Abs("testdata/l2pop-receiver.py")
	p, err := testenv.StartProc(testenv.ProcConfig{Name: "l2pop-receiver", ParentDeathSignal: 9, Grace: 10 * time.Second},
		py, append([]string{script, url, out}, hosts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("receiver output:\n%s", p.Logs())
		}
	})
	testenv.Eventually(t, 60*time.Second, "the receivers listen", func() (bool, string) {
		if !p.Running() {
			t.Fatalf("receiver exited: %s", p.Logs())
		}
		return strings.Contains(p.Logs(), "ready\n"), "no ready line"
	})
	return &receivers{out: out, proc: p}
}

// all returns what every host received so far, per host in order.
func (r *receivers) all(t *testing.T) map[string][]received {
	t.Helper()
	b, err := os.ReadFile(r.out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string][]received{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l struct {
			Host       string             `json:"host"`
			Method     string             `json:"method"`
			FDBEntries map[string]wireNet `json:"fdb_entries"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("receiver line %q: %v", sc.Text(), err)
		}
		out[l.Host] = append(out[l.Host], received{Host: l.Host, Method: l.Method, FDB: l.FDBEntries})
	}
	return out
}
