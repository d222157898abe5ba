// Package testenv starts real components for tests: ovsdb-server with the
// hardware_vtep schema and throw-away PostgreSQL servers, each in the test's
// temp folder and torn down with t.Cleanup. A missing prerequisite skips the
// test, except under CI=true where it fails.
package testenv
