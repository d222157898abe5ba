// Command replicas measures how fast a write on one `l2gw server` replica
// reaches a plan stream served by another replica of the same PostgreSQL
// database (issue 12: p99 < 100 ms). It starts a throw-away PostgreSQL 15
// and two replicas A and B as separate processes, opens host h1's plan
// stream on B (as a host agent would), then creates -writes ports one after
// another through A, each on host h2 of h1's network, so that each lands in
// h1's plan, and times:
//
//   - commit → B's stream: from A's 201 answer (the commit is done before
//     A answers) to the event carrying the port's MAC on B's stream;
//   - request → B's stream: from sending the create to A to that event.
//
// It prints p50, p90, p99 and max of both. See bench/README.md.
//
//	go run ./bench/replicas [-writes 200] [-binary path]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

func main() {
	writes := flag.Int("writes", 200, "ports created through replica A, one at a time")
	binary := flag.String("binary", "", "l2gw binary to run (default: go build ./cmd/l2gw)")
	flag.Parse()
	if *writes < 1 {
		fmt.Fprintln(os.Stderr, "replicas: -writes must be positive")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute+time.Duration(*writes)*time.Second)
	err := run(ctx, *writes, *binary)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05")+" "+format+"\n", args...)
}

func run(ctx context.Context, writes int, bin string) error {
	tmp, err := os.MkdirTemp("", "replicasbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		logf("building l2gw")
		if bin, err = testenv.BuildL2GWInto(tmp); err != nil {
			return err
		}
	}
	logf("starting a throw-away PostgreSQL 15")
	pg, err := testenv.RunPostgres()
	if err != nil {
		return err
	}
	defer pg.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, Proxy: nil}}
	defer hc.CloseIdleConnections()
	var urls []string
	for _, name := range []string{"a", "b"} {
		dir := filepath.Join(tmp, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		srv, err := testenv.RunServer(sctx, bin, hc, testenv.ProcConfig{
			Name: "replica " + name, Log: filepath.Join(dir, "server.log"), Grace: 5 * time.Second,
			ParentDeathSignal: syscall.SIGKILL,
		}, "--data-dir", dir, "--database", pg.DSN, "--access-log=false")
		cancel()
		if err != nil {
			return err
		}
		defer srv.Stop() //nolint:errcheck // a stopped server's status is not interesting
		urls = append(urls, srv.URL)
		logf("replica %s at %s", name, srv.URL)
	}
	a, err := client.New(urls[0], client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	b, err := client.New(urls[1], client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	n, err := a.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", NetworkType: "vxlan", SegmentationID: 1000})
	if err != nil {
		return err
	}
	for _, h := range []neutron.HostCreate{{Name: "h1", VTEPIP: "192.0.2.1"}, {Name: "h2", VTEPIP: "192.0.2.2"}} {
		if _, err := a.CreateHost(ctx, h); err != nil {
			return err
		}
	}
	if _, err := a.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: "fa:16:3e:ff:00:00", HostID: "h1"}); err != nil {
		return err
	}
	st, err := agentlink.New(b, agentlink.Config{}).Hosts().Watch(ctx, "h1", 0)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Next(ctx); err != nil { // the snapshot
		return err
	}
	var fromCommit, fromRequest []time.Duration
	for i := range writes {
		mac := fmt.Sprintf("fa:16:3e:00:%02x:%02x", i>>8, i&0xff)
		sent := time.Now()
		if _, err := a.CreatePort(ctx, neutron.PortCreate{NetworkID: n.ID, MACAddress: mac, HostID: "h2"}); err != nil {
			return err
		}
		answered := time.Now()
		for {
			ev, err := st.Next(ctx)
			if err != nil {
				return fmt.Errorf("B's plan stream: %w", err)
			}
			if raw, _ := json.Marshal(ev); strings.Contains(string(raw), mac) {
				break
			}
		}
		seen := time.Now()
		fromCommit = append(fromCommit, max(0, seen.Sub(answered)))
		fromRequest = append(fromRequest, seen.Sub(sent))
	}
	fmt.Printf("## Commit on replica A → event on replica B's plan stream (PostgreSQL, %d writes)\n\n", writes)
	fmt.Println("| from | p50 ms | p90 ms | p99 ms | max ms |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{{"A's 201 answer (commit done)", fromCommit}, {"create request sent to A", fromRequest}} {
		slices.Sort(r.d)
		q := func(p float64) string {
			return fmt.Sprintf("%.2f", float64(r.d[min(len(r.d)-1, int(p*float64(len(r.d))))])/1e6)
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.name, q(0.50), q(0.90), q(0.99), q(1))
	}
	return nil
}
