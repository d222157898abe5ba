package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/l2gw/l2gw/internal/model"
)

// LeaseKind names what a lease is held on (model.LeaseKind).
type LeaseKind = model.LeaseKind

// The kinds of lease and the bounds of a lease's duration, defined in
// model so the agents need not import the store.
const (
	LeaseSwitch = model.LeaseSwitch
	LeaseHost   = model.LeaseHost
	MinLeaseTTL = model.MinLeaseTTL
	MaxLeaseTTL = model.MaxLeaseTTL
)

// Lease is an agent instance's claim on a switch or a host. Epoch starts
// at 1 and increases at every change of holder (never on a renewal), so a
// holder can fence what it writes with it.
type Lease struct {
	Kind     LeaseKind
	Name     string
	Agent    string // the holder's agent name; empty once released
	Instance string // the holder's process instance (two with one name differ)
	Epoch    int64
	// Expires is when the lease lapses unless renewed (the server's clock).
	Expires    time.Time
	AcquiredAt time.Time
	RenewedAt  time.Time
}

// Live reports whether the lease is held at t.
func (l Lease) Live(t time.Time) bool { return l.Agent != "" && t.Before(l.Expires) }

func (l Lease) heldBy(agent, instance string) bool {
	return l.Agent == agent && l.Instance == instance
}

// leaseHeld is the refusal of a lease another agent holds: a 409 naming it.
func leaseHeld(l Lease, t time.Time) error {
	return model.NewFault(model.ErrConflict, "LeaseHeld",
		"%s %s is served by agent %s (epoch %d, lease expires in %v); this agent stands by until that lease lapses.",
		leaseNoun(l.Kind), l.Name, l.Agent, l.Epoch, l.Expires.Sub(t).Round(time.Millisecond))
}

func leaseLost(kind LeaseKind, name, agent string, epoch int64, cur Lease) error {
	holder := "no agent"
	if cur.Agent != "" {
		holder = fmt.Sprintf("agent %s (epoch %d)", cur.Agent, cur.Epoch)
	}
	return model.NewFault(model.ErrConflict, "LeaseLost",
		"%s %s: agent %s no longer holds the lease of epoch %d; it is held by %s.", leaseNoun(kind), name, agent, epoch, holder)
}

func leaseNoun(k LeaseKind) string {
	if k == LeaseHost {
		return "Host"
	}
	return "Switch"
}

func checkLeaseArgs(kind LeaseKind, name, agent, instance string, ttl time.Duration) error {
	switch {
	case kind != LeaseSwitch && kind != LeaseHost:
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: lease kind %q is not switch or host.", kind)
	case name == "":
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: lease name is empty.")
	case agent == "" || instance == "":
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: a lease needs the agent name and instance.")
	case ttl < MinLeaseTTL || ttl > MaxLeaseTTL:
		return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: lease duration %v is outside [%v, %v].", ttl, MinLeaseTTL, MaxLeaseTTL)
	}
	return nil
}

// AcquireLease takes the lease of (kind, name) for the agent instance for
// ttl, in one transaction: a free, released or expired lease is taken over
// with the next epoch; the holder's own lease is renewed (same epoch). A
// lease another instance holds is refused with ErrConflict (LeaseHeld,
// naming the holder) and returned as it is.
func (s *sqlStore) AcquireLease(ctx context.Context, kind LeaseKind, name, agent, instance string, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(kind, name, agent, instance, ttl); err != nil {
		return Lease{}, err
	}
	var out Lease
	_, err := s.write(ctx, func(w *wtx) error {
		t := now()
		cur, found, err := getLease(ctx, w.db, kind, name, true)
		if err != nil {
			return err
		}
		switch {
		case found && cur.heldBy(agent, instance):
			cur.Expires, cur.RenewedAt = t.Add(ttl), t
		case found && cur.Live(t):
			out = cur
			return leaseHeld(cur, t)
		default:
			cur = Lease{Kind: kind, Name: name, Agent: agent, Instance: instance, Epoch: cur.Epoch + 1,
				Expires: t.Add(ttl), AcquiredAt: t, RenewedAt: t}
		}
		out = cur
		return putLease(ctx, w, cur, found)
	})
	if err != nil && !errors.Is(err, model.ErrConflict) {
		return Lease{}, fmt.Errorf("acquire %s lease %s: %w", kind, name, err)
	}
	return out, err
}

// RenewLease extends the agent instance's lease of the given epoch by ttl,
// in one statement, even past its expiry as long as nobody took it over.
// A lease now held by another instance, or released, is refused with
// ErrConflict (LeaseLost).
func (s *sqlStore) RenewLease(ctx context.Context, kind LeaseKind, name, agent, instance string, epoch int64, ttl time.Duration) (Lease, error) {
	if err := checkLeaseArgs(kind, name, agent, instance, ttl); err != nil {
		return Lease{}, err
	}
	// A hundred switches' leases are renewed every second: each is one
	// statement, outside the group commit (a renewal logs no change, and
	// takeovers lock the lease's row, see getLease).
	var out Lease
	t := now()
	err := s.writeUnlogged(ctx, func(d db) error {
		rows, err := d.query(ctx, `UPDATE switch_leases SET expires_at = $1, renewed_at = $2
			WHERE kind = $3 AND name = $4 AND agent = $5 AND instance = $6 AND epoch = $7 RETURNING `+leaseCols,
			toMicros(t.Add(ttl)), toMicros(t), string(kind), name, agent, instance, epoch)
		if err != nil {
			return fmt.Errorf("write lease: %w", err)
		}
		renewed := false
		for rows.Next() {
			if out, err = scanLease(rows.Scan); err != nil {
				rows.Close()
				return fmt.Errorf("write lease: %w", err)
			}
			renewed = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("write lease: %w", err)
		}
		if renewed {
			return nil
		}
		cur, _, err := getLease(ctx, d, kind, name, false)
		if err != nil {
			return err
		}
		out = cur
		return leaseLost(kind, name, agent, epoch, cur)
	})
	if err != nil && !errors.Is(err, model.ErrConflict) {
		return Lease{}, fmt.Errorf("renew %s lease %s: %w", kind, name, err)
	}
	return out, err
}

// ReleaseLease gives up the agent instance's lease of the given epoch in
// one transaction, so a standby takes over at once instead of at expiry.
// The epoch is kept (the next holder gets the one after it). Releasing a
// lease the instance does not hold does nothing.
func (s *sqlStore) ReleaseLease(ctx context.Context, kind LeaseKind, name, agent, instance string, epoch int64) error {
	_, err := s.write(ctx, func(w *wtx) error {
		cur, found, err := getLease(ctx, w.db, kind, name, true)
		if err != nil || !found || !cur.heldBy(agent, instance) || cur.Epoch != epoch {
			return err
		}
		cur.Agent, cur.Instance, cur.Expires = "", "", now()
		return putLease(ctx, w, cur, true)
	})
	if err != nil {
		return fmt.Errorf("release %s lease %s: %w", kind, name, err)
	}
	return nil
}

// ListLeases returns the leases of kind ordered by name, released and
// expired ones included (Lease.Live tells); Query.Names filters.
func (s *sqlStore) ListLeases(ctx context.Context, kind LeaseKind, q Query) ([]Lease, error) {
	var wh where
	wh.cond("kind = ?", string(kind))
	wh.in("name", q.Names)
	out := []Lease{}
	err := scanRows(ctx, s.reader(), `SELECT `+leaseCols+` FROM switch_leases`+wh.String()+` ORDER BY name`, wh.args,
		func(sc func(...any) error) error {
			l, err := scanLease(sc)
			out = append(out, l)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("list %s leases: %w", kind, err)
	}
	return out, nil
}

const leaseCols = `kind, name, agent, instance, epoch, expires_at, acquired_at, renewed_at`

func scanLease(sc func(...any) error) (Lease, error) {
	var l Lease
	var kind string
	var exp, acq, ren int64
	if err := sc(&kind, &l.Name, &l.Agent, &l.Instance, &l.Epoch, &exp, &acq, &ren); err != nil {
		return l, err
	}
	l.Kind = LeaseKind(kind)
	l.Expires, l.AcquiredAt, l.RenewedAt = fromMicros(exp), fromMicros(acq), fromMicros(ren)
	return l, nil
}

// getLease reads the lease of (kind, name). With lock, on PostgreSQL, the
// lease's row stays locked until the write commits: renewals run outside
// the group commit (RenewLease), and a takeover or a release must not
// decide on a row a renewal is changing.
func getLease(ctx context.Context, d db, kind LeaseKind, name string, lock bool) (Lease, bool, error) {
	q := `SELECT ` + leaseCols + ` FROM switch_leases WHERE kind = $1 AND name = $2`
	if lock && d.s.d == dialectPostgres {
		q += ` FOR UPDATE`
	}
	l, err := scanLease(d.queryRow(ctx, q, string(kind), name).Scan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Lease{}, false, nil
	case err != nil:
		return Lease{}, false, fmt.Errorf("read lease: %w", err)
	}
	return l, true, nil
}

func putLease(ctx context.Context, w *wtx, l Lease, exists bool) error {
	var err error
	if exists {
		_, err = w.exec(ctx, `UPDATE switch_leases SET agent = $1, instance = $2, epoch = $3, expires_at = $4, acquired_at = $5, renewed_at = $6 WHERE kind = $7 AND name = $8`,
			l.Agent, l.Instance, l.Epoch, toMicros(l.Expires), toMicros(l.AcquiredAt), toMicros(l.RenewedAt), string(l.Kind), l.Name)
	} else {
		_, err = w.exec(ctx, `INSERT INTO switch_leases (`+leaseCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			string(l.Kind), l.Name, l.Agent, l.Instance, l.Epoch, toMicros(l.Expires), toMicros(l.AcquiredAt), toMicros(l.RenewedAt))
	}
	if err != nil {
		return fmt.Errorf("write lease: %w", err)
	}
	return nil
}
