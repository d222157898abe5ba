package figures

import (
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		in   []time.Duration
		want Spread[time.Duration]
		ok   bool
	}{
		{"none", nil, Spread[time.Duration]{}, false},
		{"one", []time.Duration{5}, Spread[time.Duration]{5, 5, 5}, true},
		{"odd", []time.Duration{9, 1, 5}, Spread[time.Duration]{5, 1, 9}, true},
		{"even", []time.Duration{8, 2, 4, 6}, Spread[time.Duration]{5, 2, 8}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			got, ok := Of(in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Of(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Of reordered its input: %v; want %v", in, tc.in)
				}
			}
		})
	}
	if got, _ := Of([]float64{1, 2}); got.Med != 1.5 {
		t.Errorf("Of([1 2]).Med = %v; want 1.5", got.Med)
	}
}

func TestQuantile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0.01, 1}, {0.5, 5}, {0.99, 10}, {1, 10}, {0, 1}} {
		if got := Quantile(sorted, tc.q); got != tc.want {
			t.Errorf("Quantile(1..10, %v) = %v; want %v", tc.q, got, tc.want)
		}
	}
	if got := Quantile([]time.Duration(nil), 0.5); got != 0 {
		t.Errorf("Quantile(nil, 0.5) = %v; want 0", got)
	}
}
