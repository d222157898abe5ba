package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/store"
	"github.com/l2gw/l2gw/internal/testenv"
)

// leaseStep is one call of a lease test: op is acquire, renew or release
// by agent (instance = agent + "-i") of epoch; want is the epoch held
// after it and wantErr the fault type it fails with.
type leaseStep struct {
	op, agent string
	epoch     int64 // renew, release
	ttl       time.Duration
	wantAgent string // holder after the step ("" released)
	wantEpoch int64
	wantErr   string // fault type, e.g. LeaseHeld
	expire    bool   // wait for the lease to lapse before the step
}

// TestLeases runs the lease semantics on SQLite and PostgreSQL.
func TestLeases(t *testing.T) {
	const long, short = time.Minute, store.MinLeaseTTL
	cases := []struct {
		name  string
		steps []leaseStep
	}{
		{"acquire free", []leaseStep{
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
		}},
		{"acquire again renews own", []leaseStep{
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
			{op: "renew", agent: "a", epoch: 1, ttl: long, wantAgent: "a", wantEpoch: 1},
		}},
		{"refuse held", []leaseStep{
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
			{op: "acquire", agent: "b", ttl: long, wantAgent: "a", wantEpoch: 1, wantErr: "LeaseHeld"},
			{op: "renew", agent: "b", epoch: 1, ttl: long, wantAgent: "a", wantEpoch: 1, wantErr: "LeaseLost"},
		}},
		{"take over expired, epoch increments", []leaseStep{
			{op: "acquire", agent: "a", ttl: short, wantAgent: "a", wantEpoch: 1},
			{op: "acquire", agent: "b", ttl: long, wantAgent: "b", wantEpoch: 2, expire: true},
			{op: "renew", agent: "a", epoch: 1, ttl: long, wantAgent: "b", wantEpoch: 2, wantErr: "LeaseLost"},
			{op: "release", agent: "a", epoch: 1, wantAgent: "b", wantEpoch: 2},
			{op: "acquire", agent: "a", ttl: long, wantAgent: "b", wantEpoch: 2, wantErr: "LeaseHeld"},
		}},
		{"renew past expiry while nobody took it", []leaseStep{
			{op: "acquire", agent: "a", ttl: short, wantAgent: "a", wantEpoch: 1},
			{op: "renew", agent: "a", epoch: 1, ttl: long, wantAgent: "a", wantEpoch: 1, expire: true},
		}},
		{"release lets the standby in at once", []leaseStep{
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
			{op: "release", agent: "a", epoch: 1, wantAgent: "", wantEpoch: 1},
			{op: "renew", agent: "a", epoch: 1, ttl: long, wantAgent: "", wantEpoch: 1, wantErr: "LeaseLost"},
			{op: "acquire", agent: "b", ttl: long, wantAgent: "b", wantEpoch: 2},
			{op: "release", agent: "b", epoch: 1, wantAgent: "b", wantEpoch: 2}, // wrong epoch: nothing
			{op: "acquire", agent: "a", ttl: long, wantAgent: "b", wantEpoch: 2, wantErr: "LeaseHeld"},
		}},
		{"same holder name, other instance is refused", []leaseStep{
			{op: "acquire", agent: "a", ttl: long, wantAgent: "a", wantEpoch: 1},
			{op: "acquire", agent: "a#2", ttl: long, wantAgent: "a", wantEpoch: 1, wantErr: "LeaseHeld"},
		}},
	}
	run := func(t *testing.T, open func(t *testing.T) store.Store) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				s := open(t)
				for i, st := range c.steps {
					runLeaseStep(t, s, i, st)
				}
			})
		}
		t.Run("kinds and names are apart", func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			for _, k := range []store.LeaseKind{store.LeaseSwitch, store.LeaseHost} {
				for _, n := range []string{"x", "y"} {
					if l, err := s.AcquireLease(ctx, k, n, "a", "a-i", time.Minute); err != nil || l.Epoch != 1 {
						t.Fatalf("AcquireLease(%s, %s) = %+v, %v; want epoch 1", k, n, l, err)
					}
				}
			}
			ls, err := s.ListLeases(ctx, store.LeaseHost, store.Query{Names: []string{"y"}})
			if err != nil || len(ls) != 1 || ls[0].Name != "y" || ls[0].Kind != store.LeaseHost || !ls[0].Live(time.Now()) {
				t.Fatalf("ListLeases(host, y) = %+v, %v", ls, err)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			for _, f := range []func() error{
				func() error { _, err := s.AcquireLease(ctx, "rack", "x", "a", "i", time.Second); return err },
				func() error { _, err := s.AcquireLease(ctx, store.LeaseSwitch, "", "a", "i", time.Second); return err },
				func() error { _, err := s.AcquireLease(ctx, store.LeaseSwitch, "x", "", "i", time.Second); return err },
				func() error { _, err := s.AcquireLease(ctx, store.LeaseSwitch, "x", "a", "i", time.Hour); return err },
			} {
				if err := f(); !errors.Is(err, model.ErrInvalid) {
					t.Errorf("err = %v; want ErrInvalid", err)
				}
			}
		})
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, func(t *testing.T) store.Store {
			s, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "l2gw.db"), store.Config{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		server := testenv.StartPostgres(t)
		run(t, func(t *testing.T) store.Store {
			s, err := store.Open(context.Background(), testenv.PostgresDatabase(t, server), store.Config{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func runLeaseStep(t *testing.T, s store.Store, i int, st leaseStep) {
	t.Helper()
	ctx := context.Background()
	if st.expire {
		testenv.Eventually(t, 5*time.Second, "the lease lapses", func() (bool, string) {
			ls, err := s.ListLeases(ctx, store.LeaseSwitch, store.Query{Names: []string{"sw"}})
			if err != nil || len(ls) != 1 {
				return false, "no lease"
			}
			return !ls[0].Live(time.Now()), "still live"
		})
	}
	var err error
	switch st.op {
	case "acquire":
		_, err = s.AcquireLease(ctx, store.LeaseSwitch, "sw", st.agent, st.agent+"-i", st.ttl)
	case "renew":
		_, err = s.RenewLease(ctx, store.LeaseSwitch, "sw", st.agent, st.agent+"-i", st.epoch, st.ttl)
	case "release":
		err = s.ReleaseLease(ctx, store.LeaseSwitch, "sw", st.agent, st.agent+"-i", st.epoch)
	}
	var f *model.Fault
	switch {
	case st.wantErr == "" && err != nil:
		t.Fatalf("step %d %s by %s: %v", i, st.op, st.agent, err)
	case st.wantErr != "" && (!errors.As(err, &f) || f.Type != st.wantErr || !errors.Is(err, model.ErrConflict)):
		t.Fatalf("step %d %s by %s: err = %v; want a %s conflict", i, st.op, st.agent, err, st.wantErr)
	case st.wantErr == "LeaseHeld" && !strings.Contains(err.Error(), "agent "+st.wantAgent+" "):
		t.Fatalf("step %d: %q does not name the holder %s", i, err, st.wantAgent)
	}
	ls, err := s.ListLeases(ctx, store.LeaseSwitch, store.Query{})
	if err != nil || len(ls) != 1 {
		t.Fatalf("step %d: ListLeases = %+v, %v; want one", i, ls, err)
	}
	if ls[0].Agent != st.wantAgent || ls[0].Epoch != st.wantEpoch {
		t.Fatalf("step %d %s by %s: lease held by %q epoch %d; want %q epoch %d", i, st.op, st.agent, ls[0].Agent, ls[0].Epoch, st.wantAgent, st.wantEpoch)
	}
}

// TestLeaseRenewalRacesTakeover: renewals run outside the group commit on
// PostgreSQL; a takeover on another replica at the same moment must see
// either the renewal (and be refused) or its own new epoch refuse the
// renewal, never both succeed.
func TestLeaseRenewalRacesTakeover(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	rs := openReplicas(t, testenv.PostgresDatabase(t, pg.DSN), 2, store.Config{})
	holder, standby := rs[0], rs[1]
	ctx := t.Context()
	const leases = 64
	name := func(i int) string { return fmt.Sprintf("sw%02d", i) }
	for i := range leases {
		if _, err := holder.AcquireLease(ctx, store.LeaseSwitch, name(i), "a", "a-i", store.MinLeaseTTL); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(store.MinLeaseTTL + 50*time.Millisecond) // every lease lapsed, none taken over
	type outcome struct{ renewed, took bool }
	out := make([]outcome, leases)
	var wg sync.WaitGroup
	for i := range leases {
		wg.Go(func() {
			_, err := holder.RenewLease(ctx, store.LeaseSwitch, name(i), "a", "a-i", 1, time.Minute)
			if err != nil && !errors.Is(err, model.ErrConflict) {
				t.Errorf("renew %s: %v", name(i), err)
			}
			out[i].renewed = err == nil
		})
		wg.Go(func() {
			_, err := standby.AcquireLease(ctx, store.LeaseSwitch, name(i), "b", "b-i", time.Minute)
			if err != nil && !errors.Is(err, model.ErrConflict) {
				t.Errorf("take over %s: %v", name(i), err)
			}
			out[i].took = err == nil
		})
	}
	wg.Wait()
	ls, err := holder.ListLeases(ctx, store.LeaseSwitch, store.Query{})
	if err != nil || len(ls) != leases {
		t.Fatalf("ListLeases = %d leases, %v; want %d", len(ls), err, leases)
	}
	var renewals, takeovers int
	for i, l := range ls {
		o := out[i]
		switch {
		case o.renewed && o.took:
			t.Errorf("%s: both the renewal and the takeover succeeded (held by %s, epoch %d)", l.Name, l.Agent, l.Epoch)
		case o.renewed && (l.Agent != "a" || l.Epoch != 1), o.took && (l.Agent != "b" || l.Epoch != 2):
			t.Errorf("%s: renewed %v, taken over %v, but held by %s epoch %d", l.Name, o.renewed, o.took, l.Agent, l.Epoch)
		case !o.renewed && !o.took:
			t.Errorf("%s: neither the renewal nor the takeover succeeded", l.Name)
		}
		if o.renewed {
			renewals++
		}
		if o.took {
			takeovers++
		}
	}
	t.Logf("%d renewals, %d takeovers won", renewals, takeovers)
}
