package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memStats is the server's Go heap as its /metrics shows it (the Go
// collector's go_memstats_*), read right after the RSS: where the RSS
// goes.
type memStats struct {
	ok                                        bool
	heapInuse, heapIdle, heapReleased, nextGC float64
	sys                                       float64 // all the Go runtime holds (heap, stacks, metadata)
}

// readMemStats scrapes url's /metrics (noauth: the bench's server).
func readMemStats(ctx context.Context, hc *http.Client, url string) (memStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
	if err != nil {
		return memStats{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return memStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return memStats{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var m memStats
	fields := map[string]*float64{
		"go_memstats_heap_inuse_bytes":    &m.heapInuse,
		"go_memstats_heap_idle_bytes":     &m.heapIdle,
		"go_memstats_heap_released_bytes": &m.heapReleased,
		"go_memstats_next_gc_bytes":       &m.nextGC,
		"go_memstats_sys_bytes":           &m.sys,
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if p := fields[name]; ok && p != nil {
			if *p, err = strconv.ParseFloat(v, 64); err != nil {
				return memStats{}, fmt.Errorf("%s: %w", name, err)
			}
			found++
		}
	}
	if err := sc.Err(); err != nil {
		return memStats{}, err
	}
	if found != len(fields) {
		return memStats{}, fmt.Errorf("GET /metrics: %d of %d go_memstats figures", found, len(fields))
	}
	m.ok = true
	return m, nil
}

// rssSplit is the resident memory of a process by kind (/proc/PID/status):
// anonymous (the Go heap, stacks, SQLite's page caches) and file-backed
// (mostly the binary's own pages, shared with the page cache).
type rssSplit struct{ anon, file int64 }

// readRSSSplit reads RssAnon and RssFile of pid.
func readRSSSplit(pid int) (rssSplit, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return rssSplit{}, err
	}
	var s rssSplit
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		var p *int64
		switch {
		case !ok:
			continue
		case k == "RssAnon":
			p = &s.anon
		case k == "RssFile":
			p = &s.file
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return rssSplit{}, fmt.Errorf("parse %s %q: %w", k, v, err)
		}
		*p = kb << 10
		found++
	}
	if found != 2 {
		return rssSplit{}, fmt.Errorf("/proc/%d/status: no RssAnon or RssFile", pid)
	}
	return s, nil
}
