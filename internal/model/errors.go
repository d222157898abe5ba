package model

import (
	"errors"
	"fmt"
)

// Kinds of domain failure. Callers test them with errors.Is; the API maps each
// to one HTTP status.
var (
	ErrInvalid   = errors.New("invalid input")     // 400
	ErrForbidden = errors.New("forbidden")         // 403
	ErrNotFound  = errors.New("not found")         // 404
	ErrConflict  = errors.New("conflict")          // 409
	ErrInUse     = errors.New("in use")            // 409
	ErrTooLarge  = errors.New("request too large") // 413
	// ErrPrecondition is a failed If-Match: the object changed since the
	// caller read it (Neutron's revision_number constraint).
	ErrPrecondition = errors.New("precondition failed") // 412
)

// Fault is a domain error with the Neutron fault type and message clients see,
// e.g. Type "L2GatewayNotFound". Kind is one of the Err* sentinels above.
type Fault struct {
	Kind    error
	Type    string
	Message string
}

func (f *Fault) Error() string { return f.Message }

// Unwrap lets errors.Is match the fault's kind.
func (f *Fault) Unwrap() error { return f.Kind }

// NewFault returns a Fault of the given kind and Neutron type.
func NewFault(kind error, typ, format string, args ...any) *Fault {
	return &Fault{Kind: kind, Type: typ, Message: fmt.Sprintf(format, args...)}
}
