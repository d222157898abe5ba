package metrics

import "net/http"

// StatusWriter records the status code of a response for request counters.
// Unwrap keeps http.ResponseController working through it (flushes and
// write deadlines of streamed responses).
type StatusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader records the first status code written.
func (s *StatusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 when no status was written first.
func (s *StatusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped ResponseWriter.
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Written reports whether a status was written.
func (s *StatusWriter) Written() bool { return s.code != 0 }

// Code is the status written, 200 when none was (net/http's default).
func (s *StatusWriter) Code() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
