package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond every 20ms until it holds, failing the test with
// what and cond's last explanation when timeout passes first.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; last: %s", what, timeout, why)
		}
		<-tick.C
	}
}
