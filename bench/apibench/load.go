package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// apiClient is a keep-alive HTTP client of one server; it must never be the
// bottleneck, so it reuses connections and decodes only the ids it needs.
type apiClient struct {
	url   string
	hc    *http.Client
	token string // X-Auth-Token when set
}

func newHTTPClient(maxConns int) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // loopback only, whatever the environment says
			MaxIdleConns:        maxConns,
			MaxIdleConnsPerHost: maxConns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// do sends one request and returns the status and, when keep is true, the
// body (otherwise the body is read and dropped so the connection is reused).
func (a *apiClient) do(ctx context.Context, method, path string, body []byte, keep bool) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("X-Auth-Token", a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if keep || resp.StatusCode >= 300 {
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, err
}

// create POSTs body to path, expects 201 and returns the id inside the
// response's envelope key.
func (a *apiClient) create(ctx context.Context, path, key string, body []byte) (string, error) {
	code, b, err := a.do(ctx, http.MethodPost, path, body, true)
	if err != nil {
		return "", err
	}
	if code != http.StatusCreated {
		return "", fmt.Errorf("POST %s: %d %s", path, code, bytes.TrimSpace(b))
	}
	var env map[string]struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env[key].ID == "" {
		return "", fmt.Errorf("POST %s: no %s.id in %s", path, key, b)
	}
	return env[key].ID, nil
}

func (a *apiClient) delete(ctx context.Context, path string) error {
	code, b, err := a.do(ctx, http.MethodDelete, path, nil, false)
	if err != nil {
		return err
	}
	if code != http.StatusNoContent {
		return fmt.Errorf("DELETE %s: %d %s", path, code, bytes.TrimSpace(b))
	}
	return nil
}

// recorder collects one worker's latencies by request kind.
type recorder struct {
	lat    map[string][]time.Duration
	errs   int
	ops    int // completed iterations (requests or pairs) without error
	sample error
}

// timed runs fn as one request of kind and records its latency or error.
func (r *recorder) timed(kind string, fn func() error) bool {
	t := time.Now()
	err := fn()
	if err != nil {
		r.errs++
		if r.sample == nil {
			r.sample = err
		}
		return false
	}
	r.lat[kind] = append(r.lat[kind], time.Since(t))
	return true
}

// op is one iteration of a scenario by worker w (0-based) of c; iter counts
// that worker's iterations. It reports success through the recorder.
type op func(ctx context.Context, w, c, iter int, r *recorder) bool

// result is one run of one scenario at one concurrency.
type result struct {
	rate   float64 // iterations per second
	errs   int
	lat    map[string][]time.Duration // sorted
	sample error
	cpu    usage // filled in by the caller
}

// load runs op with c workers for d. Workers finish the iteration they are
// in when d ends, so pairs are never left half done; ctx bounds everything.
func load(ctx context.Context, c int, d time.Duration, fn op) result {
	recs := make([]*recorder, c)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := range c {
		recs[w] = &recorder{lat: map[string][]time.Duration{}}
		wg.Go(func() {
			r := recs[w]
			for i := 0; time.Now().Before(stop) && ctx.Err() == nil; i++ {
				if fn(ctx, w, c, i, r) {
					r.ops++
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res := result{lat: map[string][]time.Duration{}}
	ops := 0
	for _, r := range recs {
		ops += r.ops
		res.errs += r.errs
		if res.sample == nil {
			res.sample = r.sample
		}
		for k, v := range r.lat {
			res.lat[k] = append(res.lat[k], v...)
		}
	}
	for _, v := range res.lat {
		slices.Sort(v)
	}
	res.rate = float64(ops) / elapsed.Seconds()
	return res
}
