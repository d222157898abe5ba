package switchagent

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ovn-org/libovsdb/ovsdb"
	"pgregory.net/rapid"
)

// fataler is what testing.TB and rapid.T have in common here.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// decodeJSON decodes b into generic JSON values (objects as maps, so the
// order of members does not matter) with the pairs of every OVSDB map
// sorted (a Go map's iteration order, which both encoders follow, is
// random; RFC 7047 gives the order of a map's pairs no meaning).
func decodeJSON(t fataler, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return sortMaps(v)
}

func sortMaps(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = sortMaps(e)
		}
	case []any:
		for i, e := range x {
			x[i] = sortMaps(e)
		}
		if len(x) == 2 && x[0] == "map" {
			if pairs, ok := x[1].([]any); ok {
				slices.SortFunc(pairs, func(a, b any) int {
					ja, _ := json.Marshal(a)
					jb, _ := json.Marshal(b)
					return strings.Compare(string(ja), string(jb))
				})
			}
		}
	}
	return v
}

// sameAsLibovsdb checks that appendOps(ops) decodes to what libovsdb's
// encoding of ops (each Operation's MarshalJSON) decodes to.
func sameAsLibovsdb(t fataler, ops []ovsdb.Operation) {
	t.Helper()
	want, err := json.Marshal(ops)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	got, err := appendOps(nil, ops)
	if err != nil {
		t.Fatalf("appendOps: %v", err)
	}
	if d := cmp.Diff(decodeJSON(t, want), decodeJSON(t, got)); d != "" {
		t.Fatalf("appendOps differs from libovsdb's encoding (-libovsdb +appendOps):\n%s\nlibovsdb: %s\nappendOps: %s", d, want, got)
	}
}

// genString draws strings the agent writes (names, MACs, IPs) and,
// sometimes, any string: quotes, control characters, invalid UTF-8.
func genString() *rapid.Generator[string] {
	return rapid.OneOf(
		rapid.SampledFrom([]string{"", "net1", "fa:16:3e:00:00:01", "10.0.0.1", "unknown-dst", "vxlan_over_ipv4", "l2gw"}),
		rapid.String(),
		rapid.StringMatching(`[ -~]{0,12}`),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) string { return string(b) }),
	)
}

func genUUID() *rapid.Generator[ovsdb.UUID] {
	return rapid.Custom(func(t *rapid.T) ovsdb.UUID {
		if rapid.Bool().Draw(t, "real") {
			return ovsdb.UUID{GoUUID: rapid.StringMatching(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`).Draw(t, "uuid")}
		}
		// Named UUIDs, including strings that almost look like UUIDs.
		return ovsdb.UUID{GoUUID: rapid.OneOf(genString(),
			rapid.StringMatching(`[0-9A-Fa-g]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)).Draw(t, "name")}
	})
}

func genAtom() *rapid.Generator[any] {
	return rapid.OneOf(
		rapid.Map(genString(), func(s string) any { return s }),
		rapid.Map(rapid.Int(), func(i int) any { return i }),
		rapid.Map(rapid.Int64(), func(i int64) any { return i }),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.Float64Range(-1e12, 1e12), func(f float64) any { return f }),
		rapid.Map(genUUID(), func(u ovsdb.UUID) any { return u }),
	)
}

func genValue() *rapid.Generator[any] {
	return rapid.OneOf(
		genAtom(),
		rapid.Map(rapid.SliceOfN(genAtom(), 0, 4), func(s []any) any { return ovsdb.OvsSet{GoSet: s} }),
		rapid.Custom(func(t *rapid.T) any {
			m := map[any]any{}
			for range rapid.IntRange(0, 4).Draw(t, "entries") {
				m[genString().Draw(t, "key")] = genAtom().Draw(t, "value")
			}
			return ovsdb.OvsMap{GoMap: m}
		}),
	)
}

func genRow() *rapid.Generator[ovsdb.Row] {
	return rapid.Custom(func(t *rapid.T) ovsdb.Row {
		r := ovsdb.Row{}
		for range rapid.IntRange(0, 6).Draw(t, "columns") {
			r[genString().Draw(t, "column")] = genValue().Draw(t, "value")
		}
		return r
	})
}

func genOp() *rapid.Generator[ovsdb.Operation] {
	return rapid.Custom(func(t *rapid.T) ovsdb.Operation {
		op := ovsdb.Operation{
			Op:    rapid.SampledFrom([]string{ovsdb.OperationInsert, ovsdb.OperationUpdate, ovsdb.OperationDelete, ovsdb.OperationMutate, ovsdb.OperationWait, ovsdb.OperationSelect, ovsdb.OperationComment}).Draw(t, "op"),
			Table: rapid.OneOf(rapid.Just(""), genString()).Draw(t, "table"),
		}
		if rapid.Bool().Draw(t, "has row") {
			op.Row = genRow().Draw(t, "row")
		}
		op.Rows = rapid.SliceOfN(genRow(), 0, 2).Draw(t, "rows")
		op.Columns = rapid.SliceOfN(genString(), 0, 3).Draw(t, "columns")
		for range rapid.IntRange(0, 2).Draw(t, "mutations") {
			op.Mutations = append(op.Mutations, ovsdb.Mutation{Column: genString().Draw(t, "mcol"),
				Mutator: ovsdb.Mutator(rapid.SampledFrom([]string{"insert", "delete", "+="}).Draw(t, "mutator")), Value: genValue().Draw(t, "mval")})
		}
		for range rapid.IntRange(0, 2).Draw(t, "conditions") {
			op.Where = append(op.Where, ovsdb.Condition{Column: genString().Draw(t, "ccol"),
				Function: ovsdb.ConditionFunction(rapid.SampledFrom([]string{"==", "!=", "includes"}).Draw(t, "function")), Value: genValue().Draw(t, "cval")})
		}
		if rapid.Bool().Draw(t, "has timeout") {
			n := rapid.IntRange(0, 1<<20).Draw(t, "timeout")
			op.Timeout = &n
		}
		op.Until = rapid.OneOf(rapid.Just(""), rapid.Just("=="), rapid.Just("!=")).Draw(t, "until")
		if rapid.Bool().Draw(t, "has durable") {
			d := rapid.Bool().Draw(t, "durable")
			op.Durable = &d
		}
		if rapid.Bool().Draw(t, "has comment") {
			c := genString().Draw(t, "comment")
			op.Comment = &c
		}
		if rapid.Bool().Draw(t, "has lock") {
			l := genString().Draw(t, "lock")
			op.Lock = &l
		}
		op.UUID = rapid.OneOf(rapid.Just(""), genString()).Draw(t, "uuid")
		op.UUIDName = rapid.OneOf(rapid.Just(""), genString()).Draw(t, "uuid-name")
		return op
	})
}

// TestAppendOpsSameAsLibovsdb: on random operations (every member, every
// value type libovsdb's notation has, arbitrary strings) the encoder's
// JSON decodes to the same value as libovsdb's.
func TestAppendOpsSameAsLibovsdb(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sameAsLibovsdb(t, rapid.SliceOfN(genOp(), 0, 5).Draw(t, "ops"))
	})
}

// TestAppendOpsDiff: the agent's own transactions (a 300-port network
// on an empty switch, its deletion, the fence) encode as libovsdb's do.
func TestAppendOpsDiff(t *testing.T) {
	plan := bigPlan(300, 7)
	ch := diffPlan(&plan, baseActual(), "S", "l2gw")
	if len(ch.ops) < 300 {
		t.Fatalf("%d operations", len(ch.ops))
	}
	sameAsLibovsdb(t, ch.ops)
	sameAsLibovsdb(t, []ovsdb.Operation{fenceOp("01234567-89ab-cdef-0123-456789abcdef", "gatewayhost", 42)})
}

// FuzzAppendString: any string encodes as encoding/json encodes it.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "net1", `a"b\c`, "\x00\x1f", "é", "\xff\xfe", "<&>", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		var a, b string
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("appendString(%q) = %s: invalid JSON: %v", s, got, err)
		}
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("appendString(%q) decodes to %q; want %q", s, b, a)
		}
	})
}

func TestIsUUID(t *testing.T) {
	for _, u := range []string{"", "01234567-89ab-cdef-0123-456789abcdef", "01234567-89AB-cdef-0123-456789abcdef",
		"01234567-89ab-cdef-0123-456789abcdeg", "0123456789ab-cdef-0123-456789abcdef-", "01234567-89ab-cdef-0123-456789abcde",
		"named", "g1234567-89ab-cdef-0123-456789abcdef"} {
		if got, want := isUUID(u), ovsdb.IsValidUUID(u); got != want {
			t.Errorf("isUUID(%q) = %v; want %v", u, got, want)
		}
	}
}
