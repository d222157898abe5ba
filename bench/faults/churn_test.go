package main

import (
	"testing"
	"time"
)

// TestResolveUnknown: a write without an answer is resolved to what the
// replicas show only once it can no longer commit.
func TestResolveUnknown(t *testing.T) {
	now := time.Now()
	key := connKey{"g", "n"}
	tests := []struct {
		name      string
		sent      time.Time
		shown     bool
		wantState state
	}{
		{"recent, not shown yet", now.Add(-time.Second), false, unknown},
		{"recent, shown", now.Add(-time.Second), true, unknown},
		{"old, not shown", now.Add(-lateCommit), false, absent},
		{"old, shown", now.Add(-lateCommit), true, present},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &ledger{
				ports: map[string]*portRec{"f1": {name: "f1", st: unknown, sent: tc.sent}},
				conns: map[connKey]*connRec{key: {key: key, st: unknown, sent: tc.sent}},
			}
			ports, conns := map[string]string{}, map[connKey]string{}
			if tc.shown {
				ports["f1"], conns[key] = "port-id", "conn-id"
			}
			l.resolveUnknown(ports, conns, now)
			if got := l.ports["f1"].st; got != tc.wantState {
				t.Errorf("port: %v; want %v", got, tc.wantState)
			}
			if got := l.conns[key].st; got != tc.wantState {
				t.Errorf("connection: %v; want %v", got, tc.wantState)
			}
			if tc.wantState == present && (l.ports["f1"].id != "port-id" || l.conns[key].id != "conn-id") {
				t.Errorf("ids %q, %q; want the ones shown", l.ports["f1"].id, l.conns[key].id)
			}
		})
	}
}
