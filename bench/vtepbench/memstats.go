package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// memStats is the server's Go heap as its /metrics shows it (the Go
// collector's go_memstats_*), read right after the RSS: where the RSS
// goes.
type memStats struct {
	ok                                        bool
	heapInuse, heapIdle, heapReleased, nextGC float64
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
