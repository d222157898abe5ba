package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
)

// TestStreamedListAcrossChunks lists more networks than a streamed list
// reads at a time (500): every network comes once, in ID order, with
// filters and fields applied across the chunk boundaries, as one valid
// JSON body.
func TestStreamedListAcrossChunks(t *testing.T) {
	e := newEnv(t, api.Config{})
	const n = 1203
	var sb strings.Builder
	sb.WriteString(`{"networks":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"name":"net-%d","admin_state_up":%t,"provider:network_type":"vxlan","provider:segmentation_id":%d}`, i, i%3 != 0, 10000+i)
	}
	sb.WriteString(`]}`)
	if r := e.do("POST", "/v2.0/networks", sb.String()); r.status != http.StatusCreated {
		t.Fatalf("bulk create = %d %.300s", r.status, r.body)
	}
	type net struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		AdminStateUp *bool  `json:"admin_state_up"`
	}
	list := func(q string) []net {
		t.Helper()
		r := e.do("GET", "/v2.0/networks"+q, "")
		var b struct {
			Networks []net `json:"networks"`
		}
		if r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %.300s", q, r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &b); err != nil {
			t.Fatalf("GET %s: %v (%d bytes)", q, err, len(r.body))
		}
		return b.Networks
	}
	all := list("")
	if len(all) != n {
		t.Fatalf("GET /v2.0/networks = %d networks; want %d", len(all), n)
	}
	if !slices.IsSortedFunc(all, func(a, b net) int { return strings.Compare(a.ID, b.ID) }) {
		t.Errorf("networks not in ID order")
	}
	var wantDown []net
	for _, nw := range all {
		if !*nw.AdminStateUp {
			wantDown = append(wantDown, net{ID: nw.ID, Name: nw.Name})
		}
	}
	got := list("?admin_state_up=false&fields=id&fields=name")
	if diff := cmp.Diff(wantDown, got); diff != "" {
		t.Errorf("GET ?admin_state_up=false&fields=id&fields=name (-want +got):\n%s", diff)
	}
	if len(wantDown) != (n+2)/3 {
		t.Errorf("%d networks down; want %d", len(wantDown), (n+2)/3)
	}
}

// TestStreamedSwitchList: switches are listed in name order, which is not
// their ID order: a streamed list of more than one chunk still has each
// switch once.
func TestStreamedSwitchList(t *testing.T) {
	e := newEnv(t, api.Config{})
	const n = 520
	for i := range n {
		sw := model.Switch{ID: fmt.Sprintf("sw-%04d", n-i), Name: fmt.Sprintf("tor%04d", i), TunnelIPs: []string{"127.0.0.42"}}
		if err := e.st.ReportSwitch(t.Context(), model.SwitchReport{Switch: sw}); err != nil {
			t.Fatal(err)
		}
	}
	r := e.do("GET", "/v2.0/switches?fields=name", "")
	var b struct {
		Switches []struct{ Name string } `json:"switches"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &b) != nil {
		t.Fatalf("GET /v2.0/switches = %d %.300s", r.status, r.body)
	}
	var got []string
	for _, s := range b.Switches {
		got = append(got, s.Name)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("tor%04d", i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("switch names (-want +got):\n%s", diff)
	}
}
