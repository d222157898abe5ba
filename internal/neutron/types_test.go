package neutron

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/l2gw/l2gw/internal/model"
)

func TestSegmentationIDJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want SegmentationID
		out  string
	}{
		{`300`, VLAN(300), `300`},
		{`"300"`, VLAN(300), `300`},
		{`"0100"`, VLAN(100), `100`},
		{`""`, SegmentationID{}, `""`},
		{`null`, SegmentationID{}, `""`},
		{`0`, VLAN(0), `0`},
	} {
		var got SegmentationID
		if err := json.Unmarshal([]byte(tc.in), &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tc.in, err)
		}
		if got != tc.want {
			t.Errorf("Unmarshal(%s) = %+v; want %+v", tc.in, got, tc.want)
		}
		b, _ := json.Marshal(got)
		if string(b) != tc.out {
			t.Errorf("Marshal(%+v) = %s; want %s", got, b, tc.out)
		}
	}
	var s SegmentationID
	for _, bad := range []string{`"abc"`, `[]`, `{}`, `1.5`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("Unmarshal(%s) succeeded; want error", bad)
		}
	}
}

func TestFromGateway(t *testing.T) {
	g := model.Gateway{ID: "g", Name: "n", TenantID: "t", Devices: []model.Device{{
		ID: "d", Name: "sw", Interfaces: []model.Interface{
			{Name: "p1", SegmentationIDs: []int{100}}, {Name: "p2"}, {Name: "p1", SegmentationIDs: []int{101, 0}},
		},
	}}}
	b, err := json.Marshal(FromGateway(g))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"g","name":"n","devices":[{"device_name":"sw","id":"d","interfaces":[{"name":"p1","segmentation_id":["100","101"]},{"name":"p2","segmentation_id":[]}]}],"tenant_id":"t"}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("FromGateway JSON (-want +got):\n%s", diff)
	}
}

func TestTimeJSON(t *testing.T) {
	ts := Time{time.Date(2024, 5, 6, 7, 8, 9, 500, time.FixedZone("x", 3600))}
	b, _ := json.Marshal(ts)
	if string(b) != `"2024-05-06T06:08:09Z"` {
		t.Errorf("Marshal = %s", b)
	}
	var back Time
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(ts.Truncate(time.Second)) {
		t.Errorf("Unmarshal(%s) = %v, %v", b, back, err)
	}
	b, _ = json.Marshal(Time{})
	if string(b) != "null" {
		t.Errorf("Marshal(zero) = %s; want null", b)
	}
}
