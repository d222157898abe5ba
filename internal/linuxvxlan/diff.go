package linuxvxlan

import "slices"

// diff compares a desired and a current set and returns the keys only in
// want (to add) and only in have (to remove), each sorted by compare so that
// changes, and the logs of them, come in a stable order. Every loop that
// converges kernel objects (FDB entries, ports, devices) uses it.
func diff[K comparable, A, B any](want map[K]A, have map[K]B, compare func(a, b K) int) (add, remove []K) {
	for k := range want {
		if _, ok := have[k]; !ok {
			add = append(add, k)
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	slices.SortFunc(add, compare)
	slices.SortFunc(remove, compare)
	return add, remove
}
