package switchagent

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// The transaction encoder. libovsdb encodes every ovsdb.Operation through
// its MarshalJSON, which marshals the operation, each row map, and every
// UUID, set and map inside it by reflection, each into its own buffer;
// for the 10,105 operations of a 10,000-port network that was ~55 ms of
// the agent's CPU before the first byte reached the switch. appendOps
// writes the same JSON (RFC 7047 §5.1 notation) straight into one buffer.
// It decodes to the same values as libovsdb's encoding (opjson_test.go
// checks that on random operations); only the order of object members
// may differ, which JSON does not give a meaning to.

// appendOps appends ops as a JSON array of operations (RFC 7047 §5.2).
func appendOps(b []byte, ops []ovsdb.Operation) ([]byte, error) {
	b, err := appendOpList(append(b, '['), ops)
	return append(b, ']'), err
}

// appendOpList appends ops separated by commas (the params of a transact
// request follow the database name).
func appendOpList(b []byte, ops []ovsdb.Operation) ([]byte, error) {
	for i := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendOp(b, &ops[i]); err != nil {
			return b, fmt.Errorf("operation %d (%s %s): %w", i, ops[i].Op, ops[i].Table, err)
		}
	}
	return b, nil
}

// appendOp appends one operation with the members libovsdb's
// Operation.MarshalJSON writes: empty ones are left out, except the where
// of a select (an empty where selects every row).
func appendOp(b []byte, op *ovsdb.Operation) ([]byte, error) {
	var err error
	b = append(b, `{"op":`...)
	b = appendString(b, op.Op)
	if op.Table != "" {
		b = append(b, `,"table":`...)
		b = appendString(b, op.Table)
	}
	if len(op.Row) > 0 {
		b = append(b, `,"row":`...)
		if b, err = appendRow(b, op.Row); err != nil {
			return b, err
		}
	}
	if len(op.Rows) > 0 {
		b = append(b, `,"rows":[`...)
		for i, r := range op.Rows {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendRow(b, r); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if len(op.Columns) > 0 {
		b = append(b, `,"columns":[`...)
		for i, c := range op.Columns {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		b = append(b, ']')
	}
	if len(op.Mutations) > 0 {
		b = append(b, `,"mutations":[`...)
		for i, m := range op.Mutations {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendTriple(b, m.Column, string(m.Mutator), m.Value); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if op.Timeout != nil {
		b = append(b, `,"timeout":`...)
		b = strconv.AppendInt(b, int64(*op.Timeout), 10)
	}
	if len(op.Where) > 0 || op.Op == ovsdb.OperationSelect {
		b = append(b, `,"where":[`...)
		for i, c := range op.Where {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendTriple(b, c.Column, string(c.Function), c.Value); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if op.Until != "" {
		b = append(b, `,"until":`...)
		b = appendString(b, op.Until)
	}
	if op.Durable != nil {
		b = append(b, `,"durable":`...)
		b = strconv.AppendBool(b, *op.Durable)
	}
	for _, m := range [...]struct {
		name string
		v    *string
	}{{"comment", op.Comment}, {"lock", op.Lock}} {
		if m.v != nil {
			b = append(b, `,"`...)
			b = append(b, m.name...)
			b = append(b, `":`...)
			b = appendString(b, *m.v)
		}
	}
	if op.UUID != "" {
		b = append(b, `,"uuid":`...)
		b = appendString(b, op.UUID)
	}
	if op.UUIDName != "" {
		b = append(b, `,"uuid-name":`...)
		b = appendString(b, op.UUIDName)
	}
	return append(b, '}'), nil
}

// appendTriple appends a condition or a mutation: [column, function, value].
func appendTriple(b []byte, column, function string, v any) ([]byte, error) {
	b = append(b, '[')
	b = appendString(b, column)
	b = append(b, ',')
	b = appendString(b, function)
	b = append(b, ',')
	b, err := appendValue(b, v)
	return append(b, ']'), err
}

// appendRow appends a row's columns in name order (deterministic bytes
// for the same row; a row has a handful of columns).
func appendRow(b []byte, r ovsdb.Row) ([]byte, error) {
	var arr [8]string
	cols := arr[:0]
	for c := range r {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	b = append(b, '{')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, c)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, r[c]); err != nil {
			return b, fmt.Errorf("column %s: %w", c, err)
		}
	}
	return append(b, '}'), nil
}

// appendValue appends an OVSDB value (RFC 7047 §5.1): an atom, a UUID, a
// set or a map as libovsdb holds them. Types the agent does not write go
// through encoding/json, as libovsdb would send them.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendString(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return b, fmt.Errorf("unsupported value %v", x)
		}
		return appendJSON(b, x)
	case ovsdb.UUID:
		return appendUUID(b, x.GoUUID), nil
	case ovsdb.OvsSet:
		// A one-element set is written as its atom (RFC 7047 §5.1).
		if len(x.GoSet) == 1 {
			return appendValue(b, x.GoSet[0])
		}
		b = append(b, `["set",[`...)
		for i, e := range x.GoSet {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
		}
		return append(b, "]]"...), nil
	case ovsdb.OvsMap:
		b = append(b, `["map",[`...)
		i := 0
		for k, e := range x.GoMap {
			if i > 0 {
				b = append(b, ',')
			}
			i++
			b = append(b, '[')
			var err error
			if b, err = appendValue(b, k); err != nil {
				return b, err
			}
			b = append(b, ',')
			if b, err = appendValue(b, e); err != nil {
				return b, err
			}
			b = append(b, ']')
		}
		return append(b, "]]"...), nil
	}
	return appendJSON(b, v)
}

func appendJSON(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, j...), nil
}

// appendUUID appends ["uuid", u] for a UUID and ["named-uuid", u] for a
// name (libovsdb's UUID.MarshalJSON tells them apart the same way).
func appendUUID(b []byte, u string) []byte {
	if isUUID(u) {
		b = append(b, `["uuid","`...)
		b = append(b, u...)
		return append(b, `"]`...)
	}
	b = append(b, `["named-uuid",`...)
	b = appendString(b, u)
	return append(b, ']')
}

// isUUID is ovsdb.IsValidUUID without its regular expression:
// 8-4-4-4-12 lower-case hexadecimal digits.
func isUUID(u string) bool {
	if len(u) != 36 {
		return false
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// appendString appends s as a JSON string. Printable ASCII without quotes
// or backslashes (every name, MAC and IP the agent writes) is copied;
// anything else goes through encoding/json, which also turns invalid
// UTF-8 into U+FFFD exactly as libovsdb's encoding does.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
