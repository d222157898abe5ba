package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// rssKB is the resident set of process pid in kB (/proc/PID/status VmRSS).
func rssKB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// openFDs counts the open sockets of process pid.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range es {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// latencies times n GETs of url by a well-behaved client, one after the
// other, and returns them sorted.
func latencies(t *testing.T, url string, n int) []time.Duration {
	t.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	var ds []time.Duration
	for range n {
		start := time.Now()
		res, err := hc.Get(url)
		if err != nil {
			t.Errorf("GET %s: %v", url, err)
			return []time.Duration{time.Hour}
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d; want 200", url, res.StatusCode)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds
}

func p99(ds []time.Duration) time.Duration { return ds[(len(ds)*99)/100-min(1, len(ds)*99/100)] }

// TestSlowReadersBounded has eight clients ask for a big port list and
// never read it: the server's memory stays bounded, their connections are
// closed at the write deadline, and another client is answered quickly
// meanwhile.
func TestSlowReadersBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	const writeTimeout = 5 * time.Second
	p, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--access-log=false",
		"--write-timeout", writeTimeout.String(), "--read-timeout", "2s")

	code, body := httpDo(t, "POST", base+"/v2.0/networks", `{"network":{"name":"big"}}`)
	if code != http.StatusCreated {
		t.Fatalf("create network = %d %s; want 201", code, body)
	}
	var nw struct {
		Network struct{ ID string } `json:"network"`
	}
	if err := json.Unmarshal([]byte(body), &nw); err != nil {
		t.Fatal(err)
	}
	const batches, perBatch = 10, 2000
	name := strings.Repeat("n", 200)
	for b := range batches {
		var sb strings.Builder
		sb.WriteString(`{"ports":[`)
		for i := range perBatch {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"network_id":%q,"name":"%s-%d-%d"}`, nw.Network.ID, name, b, i)
		}
		sb.WriteString(`]}`)
		if code, body := httpDo(t, "POST", base+"/v2.0/ports", sb.String()); code != http.StatusCreated {
			t.Fatalf("bulk create ports = %d %.300s; want 201", code, body)
		}
	}
	full := len(httpGet(t, base+"/v2.0/ports"))
	baseline := rssKB(t, p.PID)

	fds := openFDs(t, p.PID)
	// Eight clients that ask and never read.
	const slow = 8
	var conns []net.Conn
	for range slow {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET /v2.0/ports HTTP/1.1\r\nHost: l2gw\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	// Sample the server's RSS while the slow readers hold their answers.
	var peak int
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			r := rssKB(t, p.PID)
			mu.Lock()
			peak = max(peak, r)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	ds := latencies(t, base+"/v2.0/networks", 50)
	close(done)
	wg.Wait()
	t.Logf("RSS baseline %d MB, peak %d MB with %d slow readers; other client p99 %v (max %v)",
		baseline/1024, peak/1024, slow, p99(ds), ds[len(ds)-1])
	// Bounds with room for a machine shared with other builds: before the
	// deadlines and the encode bound, eight such readers took 460 MB and
	// held it; with them but each holding its encoded body, 105 MB; with
	// streamed lists, 34 MB.
	if grew := peak - baseline; grew > 100*1024 {
		t.Errorf("RSS grew by %d MB with %d slow readers; want < 100 MB", grew/1024, slow)
	}
	if p99(ds) > time.Second {
		t.Errorf("other client's p99 = %v; want < 1s", p99(ds))
	}

	// Past the write deadline the server has closed their connections.
	deadline := start.Add(writeTimeout + 15*time.Second)
	for openFDs(t, p.PID) > fds {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d sockets %v after the slow readers asked; want %d (their connections closed)", openFDs(t, p.PID), time.Since(start), fds)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("list body %d MB; slow readers' connections closed after %v", full>>20, time.Since(start).Round(100*time.Millisecond))
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSlowBodiesClosed has 300 clients send a request body a byte a
// second: the server closes them at the read deadline, and another client
// is answered meanwhile.
func TestSlowBodiesClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testenv.BuildL2GW(t)
	const readTimeout = 2 * time.Second
	p, base := testenv.StartServer(t, bin, "--data-dir", t.TempDir(), "--access-log=false",
		"--read-timeout", readTimeout.String())
	socks := openFDs(t, p.PID)

	const slow = 300
	var conns []net.Conn
	for range slow {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "POST /v2.0/networks HTTP/1.1\r\nHost: l2gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	peakSocks := openFDs(t, p.PID)
	// A byte a second on each, for at most 10 s; a write fails once the
	// server has closed the connection (after the peer's reset).
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for range 10 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, c := range conns {
				_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				_, _ = io.WriteString(c, " ")
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	ds := latencies(t, base+"/v2.0/networks", 50)
	t.Logf("%d slow bodies: server sockets %d -> %d; other client p99 %v (max %v)", slow, socks, peakSocks, p99(ds), ds[len(ds)-1])
	if p99(ds) > time.Second {
		t.Errorf("other client's p99 = %v; want < 1s", p99(ds))
	}
	deadline := start.Add(readTimeout + 15*time.Second)
	for openFDs(t, p.PID) > socks+5 {
		if time.Now().After(deadline) {
			t.Fatalf("server has %d sockets %v after the slow bodies began; want about %d (their connections closed)", openFDs(t, p.PID), time.Since(start), socks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("slow bodies' connections closed after %v", time.Since(start).Round(100*time.Millisecond))
}
