// Package figures summarises what the bench programs measure: the
// nearest-rank quantiles of a run's latencies, and the median, minimum and
// maximum of one figure over several runs.
package figures

import (
	"math"
	"slices"
)

// Number is a figure: a time.Duration, a rate, a ratio.
type Number interface{ ~int64 | ~float64 }

// Spread is one figure over several runs.
type Spread[T Number] struct {
	Med, Min, Max T // the median is the mean of the two middle values of an even count
}

// Of returns the spread of v; ok is false when v is empty.
func Of[T Number](v []T) (s Spread[T], ok bool) {
	if len(v) == 0 {
		return s, false
	}
	v = slices.Clone(v)
	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return Spread[T]{Med: med, Min: v[0], Max: v[len(v)-1]}, true
}

// Quantile returns the nearest-rank q-quantile (0 < q <= 1) of sorted,
// which is in ascending order; zero when it is empty.
func Quantile[T Number](sorted []T, q float64) T {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
