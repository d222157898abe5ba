// Command apibench measures the l2gw API server: it starts `l2gw server` on
// SQLite (or PostgreSQL: -database) as a separate process on a loopback port, then prints requests or
// create+delete pairs per second, p50 and p99 for the list, gateway and
// connection scenarios of issue 3 at several concurrencies, the server's
// RSS and its time from process start to first answer, next to the
// original networking-l2gw's figures. See bench/README.md.
//
//	go run ./bench/apibench [-duration 5s] [-concurrency 1,8,32] [-runs 3] [-binary path] [-database sqlite|postgres|DSN]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

func main() {
	duration := flag.Duration("duration", 5*time.Second, "length of one run of one scenario at one concurrency")
	concFlag := flag.String("concurrency", "1,8,32", "comma-separated numbers of concurrent clients")
	runs := flag.Int("runs", 3, "runs of each scenario and concurrency (the median is reported)")
	binary := flag.String("binary", "", "l2gw binary to run (default: go build ./cmd/l2gw)")
	inproc := flag.Bool("inprocess", false, "serve the API inside this process instead (for profiling; RSS then includes the client)")
	cpuprofile := flag.String("cpuprofile", "", "with -inprocess: write a CPU profile of the load phase to this file")
	token := flag.String("token", "", "send this X-Auth-Token with every request (for a server started with -server-args \"--auth keystone …\")")
	serverArgs := flag.String("server-args", "", "extra space-separated flags of `l2gw server`, e.g. \"--auth keystone --keystone-url URL --service-user l2gw\" (password from L2GW_SERVICE_PASSWORD)")
	newTokens := flag.Int("new-tokens", 0, "time the first request of this many new Keystone tokens (and their second, cached) before the scenarios; needs -keystone-url, -os-username, -os-project and OS_PASSWORD")
	ksURL := flag.String("keystone-url", "", "with -new-tokens: the identity endpoint, http://HOST:5000/v3")
	osUser := flag.String("os-username", "admin", "with -new-tokens: the user whose tokens are timed (its password from OS_PASSWORD)")
	osProject := flag.String("os-project", "admin", "with -new-tokens: the user's project")
	only := flag.String("scenarios", "list,gateway,connection", "comma-separated scenarios to run (list, gateway, connection)")
	database := flag.String("database", "sqlite", "the server's store: sqlite (in its data dir), postgres (a throw-away PostgreSQL 15 started for the bench, as the tests start it) or a postgres:// DSN")
	flag.Parse()

	conc, err := parseConcurrency(*concFlag)
	if err == nil {
		err = selectScenarios(*only)
	}
	if err == nil && (*runs < 1 || *duration <= 0) {
		err = fmt.Errorf("-runs and -duration must be positive")
	}
	if err == nil && *newTokens > 0 && (*ksURL == "" || os.Getenv("OS_PASSWORD") == "") {
		err = fmt.Errorf("-new-tokens needs -keystone-url and OS_PASSWORD")
	}
	if err == nil && *cpuprofile != "" && !*inproc {
		err = fmt.Errorf("-cpuprofile needs -inprocess")
	}
	if err == nil && *database != "sqlite" && *inproc {
		err = fmt.Errorf("-inprocess runs on SQLite only")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(2)
	}
	// A closed stdout (| head) must not kill us before the server is
	// stopped and the temp dir removed.
	signal.Ignore(syscall.SIGPIPE)
	// Bound the whole bench: every run plus generous setup time.
	limit := time.Duration(*runs*len(conc)*len(scenarios))*(*duration+15*time.Second) + 3*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	o := options{duration: *duration, conc: conc, runs: *runs, binary: *binary, inproc: *inproc, cpuprofile: *cpuprofile, token: *token, serverArgs: strings.Fields(*serverArgs), database: *database,
		newTokens: *newTokens, login: keystoneLogin{url: *ksURL, user: *osUser, password: os.Getenv("OS_PASSWORD"), project: *osProject}}
	if err == nil {
		var done func()
		done, err = withDatabase(*database, &o)
		defer done()
	}
	if err == nil {
		err = run(ctx, o)
	}
	stop()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "apibench:", err)
		os.Exit(1) //nolint:gocritic // deferred cleanups skipped: a throw-away PostgreSQL dies with us (parent-death signal)
	}
}

// withDatabase points the server at the -database store: nothing to do for
// SQLite; a throw-away PostgreSQL server (stopped by the returned func) or
// the given DSN otherwise.
func withDatabase(database string, o *options) (func(), error) {
	switch {
	case database == "sqlite":
		return func() {}, nil
	case database == "postgres":
		logf("starting a throw-away PostgreSQL 15")
		pg, err := testenv.RunPostgres()
		if err != nil {
			return func() {}, fmt.Errorf("-database postgres: %w", err)
		}
		o.serverArgs = append(o.serverArgs, "--database", pg.DSN)
		return pg.Close, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		o.serverArgs = append(o.serverArgs, "--database", database)
		return func() {}, nil
	}
	return func() {}, fmt.Errorf("-database %q: want sqlite, postgres or a postgres:// DSN", database)
}

type options struct {
	duration   time.Duration
	conc       []int
	runs       int
	binary     string
	inproc     bool
	cpuprofile string
	token      string        // X-Auth-Token of every request
	serverArgs []string      // extra flags of l2gw server
	newTokens  int           // new tokens whose first request is timed
	login      keystoneLogin // whose tokens
	database   string        // -database
}

// selectScenarios keeps the scenarios whose first word is listed.
func selectScenarios(s string) error {
	want := strings.Split(s, ",")
	var keep []scenario
	for _, sc := range scenarios {
		if slices.Contains(want, strings.Fields(sc.name)[0]) {
			keep = append(keep, sc)
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("-scenarios %q: none of list, gateway, connection", s)
	}
	scenarios = keep
	return nil
}

func parseConcurrency(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("-concurrency: %q is not a number in 1..1024", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// report is everything the tables print.
type report struct {
	starts          []time.Duration
	rssIdle, rssEnd int64
	peak            int64
	results         [][][]result // [scenario][concurrency][run]
}

func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "apibench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dataDir := filepath.Join(tmp, "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		return err
	}
	maxC := slices.Max(o.conc)
	hc := newHTTPClient(maxC + 4)
	defer hc.CloseIdleConnections()

	var rep report
	var srv *server
	if o.inproc {
		if srv, err = startInProcess(ctx, dataDir, o.cpuprofile); err != nil {
			return err
		}
		rep.starts = append(rep.starts, srv.started)
	} else {
		bin := o.binary
		if bin == "" {
			logf("building l2gw")
			if bin, err = testenv.BuildL2GWInto(tmp); err != nil {
				return err
			}
		}
		// Start it -runs times (on the same database) for the start-up
		// figure; keep the last one for the load.
		for i := range o.runs {
			if srv, err = startServer(ctx, bin, dataDir, hc, o.serverArgs...); err != nil {
				return err
			}
			rep.starts = append(rep.starts, srv.started)
			logf("server %s pid %d answered %.0f ms after start", srv.url, srv.pid, ms(srv.started))
			if i < o.runs-1 {
				srv.stop()
			}
		}
	}
	defer srv.stop()

	select { // let start-up work (migrations, GC) settle before "idle"
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	if rep.rssIdle, _, err = srv.memory(); err != nil {
		return err
	}
	a := &apiClient{url: srv.url, hc: hc, token: o.token}
	if o.newTokens > 0 {
		first, second, err := newTokenLatency(ctx, a, o.login, o.newTokens)
		if err != nil {
			return fmt.Errorf("new tokens: %w", err)
		}
		fmt.Printf("new token, first request (validated by Keystone): %s ms over %d tokens\n", statOf(first), len(first))
		fmt.Printf("new token, second request (cached):               %s ms\n", statOf(second))
	}
	srv.profile(true)
	for _, sc := range scenarios {
		fn, err := sc.setup(ctx, a, maxC)
		if err != nil {
			return fmt.Errorf("%s: setup: %w", sc.name, err)
		}
		var byConc [][]result
		for _, c := range o.conc {
			var rs []result
			for i := range o.runs {
				before, err := sampleCPU(srv.pid)
				if err != nil {
					return err
				}
				t := time.Now()
				r := load(ctx, c, o.duration, fn)
				if err := ctx.Err(); err != nil {
					return err
				}
				after, err := sampleCPU(srv.pid)
				if err != nil {
					return err
				}
				r.cpu = cpuUsage(before, after, time.Since(t).Seconds())
				logf("%s C=%d run %d: %.0f %s, %d errors%s; %s", sc.name, c, i+1, r.rate, sc.unit, r.errs, sampleErr(r), r.cpu)
				rs = append(rs, r)
			}
			byConc = append(byConc, rs)
		}
		rep.results = append(rep.results, byConc)
	}
	srv.profile(false)
	if rep.rssEnd, rep.peak, err = srv.memory(); err != nil {
		return err
	}
	printReport(os.Stdout, o, rep)
	return nil
}

func sampleErr(r result) string {
	if r.sample == nil {
		return ""
	}
	return " (first: " + r.sample.Error() + ")"
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
