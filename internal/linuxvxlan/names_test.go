package linuxvxlan

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testNames = Names{Bridge: "tbr", VXLAN: "tvx"}

func TestNamesParse(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		vni  int
	}{
		{"tvx1000", KindVXLAN, 1000},
		{"tbr1", KindBridge, 1},
		{"tbr16777215", KindBridge, MaxVNI},
		{"tbr16777216", NotOwned, 0},
		{"tvx0", NotOwned, 0},
		{"tvx01", NotOwned, 0},
		{"tvx", NotOwned, 0},
		{"tvx-1", NotOwned, 0},
		{"tvx+1", NotOwned, 0},
		{"tvx1x", NotOwned, 0},
		{"tbrother", NotOwned, 0},
		{"vx1000", NotOwned, 0},
		{"tvx123456789", NotOwned, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if kind, vni := testNames.Parse(tc.name); kind != tc.kind || vni != tc.vni {
				t.Errorf("Parse(%q) = %v, %d; want %v, %d", tc.name, kind, vni, tc.kind, tc.vni)
			}
		})
	}
	for _, vni := range []int{1, 4096, MaxVNI} {
		for kind, name := range map[Kind]string{KindBridge: testNames.BridgeName(vni), KindVXLAN: testNames.VXLANName(vni)} {
			if gotKind, got := testNames.Parse(name); gotKind != kind || got != vni {
				t.Errorf("Parse(%q) = %v, %d; want %v, %d", name, gotKind, got, kind, vni)
			}
		}
	}
}

func TestNamesValidate(t *testing.T) {
	tests := []struct {
		names   Names
		wantErr string
	}{
		{Names{Bridge: "l2br", VXLAN: "l2vx"}, ""},
		{Names{Bridge: "1234567", VXLAN: "abcdefg"}, ""},
		{Names{Bridge: "12345678", VXLAN: "l2vx"}, "want 1 to 7 characters"},
		{Names{Bridge: "", VXLAN: "l2vx"}, "want 1 to 7 characters"},
		{Names{Bridge: "br", VXLAN: "brx"}, "overlap"},
	}
	for _, tc := range tests {
		err := tc.names.validate()
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v.validate() = %v; want error containing %q", tc.names, err, tc.wantErr)
		}
	}
}

func TestDiff(t *testing.T) {
	want := map[string]bool{"a": true, "b": true, "d": true}
	have := map[string]int{"b": 1, "c": 2, "e": 3}
	add, remove := diff(want, have, strings.Compare)
	if d := cmp.Diff([]string{"a", "d"}, add); d != "" {
		t.Errorf("diff() add (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"c", "e"}, remove); d != "" {
		t.Errorf("diff() remove (-want +got):\n%s", d)
	}
	if add, remove := diff(map[int]bool{}, map[int]bool{}, func(a, b int) int { return a - b }); add != nil || remove != nil {
		t.Errorf("diff(empty, empty) = %v, %v; want nil, nil", add, remove)
	}
}
