package procstat

import (
	"os"
	"testing"
	"time"
)

// TestSelf: the test process's own CPU time is read and grows with work.
func TestSelf(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU time %v after 50 ms of work, %v before; want more", after, before)
	}
	if _, err := Ticks("self"); err != nil {
		t.Errorf("Ticks(self): %v", err)
	}
	if _, err := Ticks("0"); err == nil {
		t.Error("Ticks(0) read a process that does not exist")
	}
}
