package main

import (
	"bytes"
	"os"
	"testing"
)

// TestColumnsUpToDate fails when vtep/columns.go differs from what the
// models generate: a model changed and go generate was not run.
func TestColumnsUpToDate(t *testing.T) {
	want, err := generate()
	if err != nil {
		t.Fatalf("generate() error: %v", err)
	}
	got, err := os.ReadFile("../vtep/columns.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("vtep/columns.go is stale; run go generate ./internal/vtepmodel")
	}
}
