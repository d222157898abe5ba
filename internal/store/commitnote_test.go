package store

import "testing"

func TestCommitNote(t *testing.T) {
	tests := []struct {
		payload string
		want    commitNote
		ok      bool
	}{
		{"12 10 gc", commitNote{rev: 12, prev: 10, gw: true, conn: true}, true},
		{"12 11 g", commitNote{rev: 12, prev: 11, gw: true}, true},
		{"12 11 c", commitNote{rev: 12, prev: 11, conn: true}, true},
		{"12 11 -", commitNote{rev: 12, prev: 11}, true},
		{"12", commitNote{rev: 12, prev: -1}, true}, // an older replica's payload
		{"", commitNote{}, false},
		{"x", commitNote{}, false},
		{"12 x -", commitNote{}, false},
		{"12 12 -", commitNote{}, false}, // prev must come before rev
		{"12 11", commitNote{}, false},
		{"12 11 - extra", commitNote{}, false},
	}
	for _, tt := range tests {
		got, ok := parseCommitNote(tt.payload)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseCommitNote(%q) = %+v, %v; want %+v, %v", tt.payload, got, ok, tt.want, tt.ok)
		}
		if ok && got.prev >= 0 && got.String() != tt.payload {
			t.Errorf("parseCommitNote(%q).String() = %q", tt.payload, got.String())
		}
	}
}
