package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DefaultPresenceExpiry is Config.PresenceExpiry's default.
const DefaultPresenceExpiry = 15 * time.Second

// PresenceExpired is the sync error of a switch, and the error of a host
// status, whose agent's presence expired: the replica serving the agent
// stopped renewing it (it died, or lost the database) and no replica has
// heard from the agent since.
const PresenceExpired = "agent presence expired: the server serving its agent stopped renewing it"

// Presence: an agent's status sent through a replica makes that replica the
// owner of the agent's presence (presence_owner = its replica id) and stamps
// heartbeat; the owner renews heartbeat every PresenceExpiry/3 for the
// presences it owns and still shows connected (see presenceLoop). Every
// replica reads the same rows, so every replica shows the same connected
// flag, and a flag whose heartbeat is older than PresenceExpiry reads as
// disconnected even before a replica's sweep records it (with a revision
// for switches, so plan feeds and status follow).

// alive reports whether a presence row is connected now.
func (s *sqlStore) alive(connected bool, heartbeat int64) bool {
	return connected && heartbeat > toMicros(now().Add(-s.cfg.PresenceExpiry))
}

// SwitchGone marks the named switch's agent disconnected with reason, only
// if this replica owns its presence: the agent may already have reconnected
// through another replica, whose status must stand.
func (s *sqlStore) SwitchGone(ctx context.Context, name, reason string) error {
	_, err := s.write(ctx, func(w *wtx) error {
		res, err := w.exec(ctx, `UPDATE switches SET connected = $1, sync_error = $2, presence_owner = '' WHERE name = $3 AND connected AND presence_owner = $4`,
			false, reason, name, s.replica)
		if err != nil {
			return fmt.Errorf("mark switch %s gone: %w", name, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("mark switch %s gone: %w", name, err)
		} else if n > 0 {
			w.change(KindSwitch, name, OpUpdate)
		}
		return nil
	})
	return err
}

// HostGone marks the named host's agent gone with reason, only if this
// replica owns its presence (see SwitchGone).
func (s *sqlStore) HostGone(ctx context.Context, name, reason string) error {
	_, err := s.write(ctx, func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE host_status SET connected = $1, error = $2, presence_owner = '', updated_at = $3 WHERE name = $4 AND connected AND presence_owner = $5`,
			false, reason, toMicros(now()), name, s.replica); err != nil {
			return fmt.Errorf("mark host %s gone: %w", name, err)
		}
		return nil
	})
	return err
}

// ClaimPresence makes this replica the owner of the presence of the named
// switches' and hosts' agents that show connected and that another replica
// owns, and renews their heartbeat (this replica renews those it owns:
// renewPresence): the replica holding an agent's plan stream calls it
// periodically, so that it owns the presence even when the agent's status
// reached another replica (through a load balancer), and its mark at the
// stream's end applies.
func (s *sqlStore) ClaimPresence(ctx context.Context, switches, hosts []string) error {
	if len(switches)+len(hosts) == 0 {
		return nil
	}
	t := toMicros(now())
	_, err := s.write(ctx, func(w *wtx) error {
		for table, names := range map[string][]string{"switches": switches, "host_status": hosts} {
			if len(names) == 0 {
				continue
			}
			var wh where
			wh.cond("heartbeat = ?", t)
			wh.cond("presence_owner = ?", s.replica)
			set := strings.Join(wh.conds, ", ")
			wh.conds = nil
			wh.in("name", names)
			wh.conds = append(wh.conds, "connected")
			wh.cond("presence_owner <> ?", s.replica)
			if _, err := w.exec(ctx, `UPDATE `+table+` SET `+set+wh.String(), wh.args...); err != nil {
				return fmt.Errorf("claim presence: %w", err)
			}
		}
		return nil
	})
	return err
}

// renewPresence renews the heartbeats this replica owns and records the
// presences whose heartbeat expired (any replica's) as disconnected. A
// heartbeat stamped by a status less than half a renewal period ago is
// left alone: under churn agents report every second or so, and renewing
// all thousand rows at once held the revision lock long enough for a burst
// of slow writes every renewal (bench/scale). A heartbeat is thus at most
// 1.5 periods (half the expiry) old when renewed.
func (s *sqlStore) renewPresence(ctx context.Context) error {
	t := now()
	due := toMicros(t.Add(-s.cfg.PresenceExpiry / 6))
	stale := toMicros(t.Add(-s.cfg.PresenceExpiry))
	_, err := s.write(ctx, func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE switches SET heartbeat = $1 WHERE connected AND presence_owner = $2 AND heartbeat < $3`, toMicros(t), s.replica, due); err != nil {
			return fmt.Errorf("renew switch presence: %w", err)
		}
		if _, err := w.exec(ctx, `UPDATE host_status SET heartbeat = $1 WHERE connected AND presence_owner = $2 AND heartbeat < $3`, toMicros(t), s.replica, due); err != nil {
			return fmt.Errorf("renew host presence: %w", err)
		}
		rows, err := w.query(ctx, `SELECT name FROM switches WHERE connected AND heartbeat < $1`, stale)
		if err != nil {
			return fmt.Errorf("expire switch presence: %w", err)
		}
		var names []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return fmt.Errorf("expire switch presence: %w", err)
			}
			names = append(names, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("expire switch presence: %w", err)
		}
		for _, n := range names {
			if _, err := w.exec(ctx, `UPDATE switches SET connected = $1, sync_error = $2, presence_owner = '' WHERE name = $3`, false, PresenceExpired, n); err != nil {
				return fmt.Errorf("expire switch presence: %w", err)
			}
			w.change(KindSwitch, n, OpUpdate)
		}
		if _, err := w.exec(ctx, `UPDATE host_status SET connected = $1, error = $2, presence_owner = '' WHERE connected AND heartbeat < $3`, false, PresenceExpired, stale); err != nil {
			return fmt.Errorf("expire host presence: %w", err)
		}
		return nil
	})
	return err
}

// presenceLoop renews and expires presences every PresenceExpiry/3 until
// ctx is done.
func (s *sqlStore) presenceLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.PresenceExpiry / 3)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := s.renewPresence(ctx)
		s.log.Debug("presence renewed", "duration", time.Since(start))
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			s.log.Warn("cannot renew agents' presence", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("agents' presence renewed again")
			failing = false
		}
	}
}
