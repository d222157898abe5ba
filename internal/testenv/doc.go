// Package testenv starts real components for tests and the bench programs:
// ovsdb-server with the hardware_vtep schema, throw-away PostgreSQL servers,
// network namespaces, TLS files, and the l2gw binary itself, built once and
// run as child processes (StartProc, RunServer; StartL2GW and StartServer
// for tests). One Poll waits for conditions with a deadline (Eventually in
// tests), and StopPID stops daemons known by their pidfile.
//
// Test helpers work in the test's temp folder and tear down with t.Cleanup.
// A missing prerequisite skips the test, except under CI=true where it fails.
package testenv
