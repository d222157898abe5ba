package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/l2gw/l2gw/internal/model"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 1 << 20

// maxNameLen is the longest name (and other short string) accepted: the
// original's database column size, checked here instead of failing with 500.
const maxNameLen = 255

func malformed() error {
	return model.NewFault(model.ErrInvalid, "MalformedRequestBody", "Malformed request body: Cannot understand JSON.")
}

// readJSON reads and parses a request body (numbers kept as json.Number).
// An empty body is nil.
func readJSON(w http.ResponseWriter, r *http.Request, limit int64) (any, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, model.NewFault(model.ErrTooLarge, "HTTPRequestEntityTooLarge", "Request is too large.")
		}
		return nil, badRequest("Malformed request body: %s", "cannot read the body")
	}
	return parseJSON(body)
}

func parseJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed()
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, malformed()
	}
	if err := CheckUTF8(body); err != nil {
		return nil, err
	}
	return v, nil
}

// truthy is Python's truth value of a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return err != nil || f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// readUpdate reads the body of an update (PUT): one object under member
// (collection is the bulk key, refused here) with only attributes spec lets
// an update set. These resources have no revision_number: an If-Match
// revision constraint is refused.
func (h *handler) readUpdate(w http.ResponseWriter, r *http.Request, member, collection string, spec []attr) (map[string]any, error) {
	if err := refuseIfMatch(r, "this resource"); err != nil {
		return nil, err
	}
	body, err := readJSON(w, r, h.maxBody)
	if err != nil {
		return nil, err
	}
	items, _, err := envelope(body, member, collection, false)
	if err != nil {
		return nil, err
	}
	if err := checkAttrs(items[0], spec, false); err != nil {
		return nil, err
	}
	return items[0], nil
}

// envelope extracts the resource object(s) of a request body as neutron's
// prepare_request_body does. With bulk allowed, {"<collection>": [...]}
// yields several objects.
func envelope(body any, member, collection string, bulk bool) (items []map[string]any, isBulk bool, err error) {
	if !truthy(body) {
		return nil, false, badRequest("Resource body required")
	}
	m, ok := body.(map[string]any)
	if !ok {
		return nil, false, badRequest("Body contains invalid data")
	}
	if list, ok := m[collection]; ok {
		if !bulk {
			return nil, false, badRequest("Bulk operation not supported")
		}
		if !truthy(list) {
			return nil, false, badRequest("Resources required")
		}
		l, ok := list.([]any)
		if !ok {
			return nil, false, badRequest("Body contains invalid data")
		}
		for _, it := range l {
			obj, ok := it.(map[string]any)
			if !ok {
				return nil, false, badRequest("Object '%s' contains invalid data", member)
			}
			if inner, ok := obj[member]; ok {
				obj, ok = inner.(map[string]any)
				if !ok {
					return nil, false, badRequest("Object '%s' contains invalid data", member)
				}
			}
			items = append(items, obj)
		}
		return items, true, nil
	}
	res, ok := m[member]
	if !ok || res == nil {
		return nil, false, badRequest("Unable to find '%s' in request body", member)
	}
	obj, ok := res.(map[string]any)
	if !ok {
		return nil, false, badRequest("Object '%s' contains invalid data", member)
	}
	return []map[string]any{obj}, false, nil
}

// attr is one attribute of a resource (neutron's RESOURCE_ATTRIBUTE_MAP).
type attr struct {
	name     string
	post     bool // allow_post
	put      bool // allow_put
	required bool // allow_post without a default
}

// checkAttrs runs neutron's populate_project_info, verify_attributes and
// fill_post_defaults (create) or the read-only check (update), in that order.
// Specs list tenant_id and project_id; the result has project_id folded into
// tenant_id.
func checkAttrs(res map[string]any, spec []attr, create bool) error {
	t, hasT := res["tenant_id"]
	p, hasP := res["project_id"]
	if hasT && hasP && !jsonEqual(t, p) {
		return badRequest("'project_id' and 'tenant_id' do not match")
	}
	var extra []string
	for k := range res {
		if !slices.ContainsFunc(spec, func(a attr) bool { return a.name == k }) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return badRequest("Unrecognized attribute(s) '%s'", strings.Join(extra, ", "))
	}
	for _, a := range spec {
		_, present := res[a.name]
		switch {
		case create && a.post && a.required && !present:
			return badRequest("Failed to parse request. Required attribute '%s' not specified", a.name)
		case create && !a.post && present:
			return badRequest("Attribute '%s' not allowed in POST", a.name)
		case !create && !a.put && present:
			return badRequest("Cannot update read-only attribute %s", a.name)
		}
	}
	if hasP && !hasT {
		res["tenant_id"] = p
	}
	delete(res, "project_id")
	return nil
}

// checkKeys refuses keys of a nested object (a device, an interface, a
// binding:profile) that known does not list, as checkAttrs does for a
// resource: an ignored key is input silently dropped (the seed's
// "segmentation-id" lost its VLANs so). where names the object, e.g.
// "devices[0].interfaces[1]".
func checkKeys(m map[string]any, where string, known ...string) error {
	var extra []string
	for k := range m {
		if !slices.Contains(known, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	msg := fmt.Sprintf("Unrecognized attribute(s) '%s' in %s", strings.Join(extra, ", "), where)
	for _, k := range extra {
		if alt := strings.ReplaceAll(k, "-", "_"); alt != k && slices.Contains(known, alt) {
			msg += fmt.Sprintf(" (did you mean '%s'?)", alt)
			break
		}
	}
	return badRequest("%s", msg)
}

// tenantSpec is the tenant_id/project_id pair every resource has.
var tenantSpec = []attr{{name: "tenant_id", post: true}, {name: "project_id", post: true}}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// pyStr is Python's str() of a decoded JSON value, used where neutron
// formats a bad value into a message with '%s'.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

// pyRepr is Python's repr() of a decoded JSON value.
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return pyQuote(x)
	case json.Number:
		return pyNumber(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyQuote(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

func pyNumber(n json.Number) string {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		if math.IsInf(f, 1) {
			return "inf"
		}
		if math.IsInf(f, -1) {
			return "-inf"
		}
		return s
	}
	out := strconv.FormatFloat(f, 'g', -1, 64)
	if abs := math.Abs(f); abs >= 1e16 || (abs < 1e-4 && f != 0) {
		out = strconv.FormatFloat(f, 'e', -1, 64)
		// Python writes 1e+16, Go 1e+16: same; Go pads nothing either.
		return out
	}
	if !strings.ContainsAny(out, ".e") {
		out += ".0"
	}
	return out
}

func pyQuote(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError || !unicode.IsPrint(r):
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r < 0x10000:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// pyInt parses like Python's int() of a str or a number: surrounding
// whitespace, a sign, digits with single underscores; a JSON number must be
// integral. big reports a value outside the int range (still an integer).
func pyInt(v any) (n int, ok, big_ bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case json.Number:
		s = string(x)
		if strings.ContainsAny(s, ".eE") {
			f, ok := new(big.Float).SetString(s)
			if !ok || !f.IsInt() {
				return 0, false, false
			}
			i, _ := f.Int(nil)
			if !i.IsInt64() || i.Int64() > math.MaxInt32 || i.Int64() < math.MinInt32 {
				return 0, true, true
			}
			return int(i.Int64()), true, false
		}
	default:
		return 0, false, false
	}
	digits := strings.TrimLeft(s, "+-")
	if len(s)-len(digits) > 1 || digits == "" || digits[0] == '_' || digits[len(digits)-1] == '_' || strings.Contains(digits, "__") {
		return 0, false, false
	}
	digits = strings.ReplaceAll(digits, "_", "")
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	i, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return 0, false, false
	}
	if strings.HasPrefix(s, "-") {
		i.Neg(i)
	}
	if !i.IsInt64() || i.Int64() > math.MaxInt32 || i.Int64() < math.MinInt32 {
		return 0, true, true
	}
	return int(i.Int64()), true, false
}

// String attribute validators (neutron_lib validate_string with max_len).

func stringAttr(res map[string]any, name string, maxLen int) (string, bool, error) {
	v, ok := res[name]
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, invalidAttr(name, fmt.Sprintf("'%s' is not a valid string", pyStr(v)))
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		return "", true, invalidAttr(name, fmt.Sprintf("'%s' exceeds maximum length of %d", s, maxLen))
	}
	return s, true, nil
}

// boolAttr is neutron_lib's convert_to_boolean.
func boolAttr(res map[string]any, name string) (bool, bool, error) {
	v, ok := res[name]
	if !ok {
		return false, false, nil
	}
	switch x := v.(type) {
	case bool:
		return x, true, nil
	case string:
		switch strings.ToLower(x) {
		case "true", "1":
			return true, true, nil
		case "false", "0":
			return false, true, nil
		}
	case json.Number:
		switch string(x) {
		case "1":
			return true, true, nil
		case "0":
			return false, true, nil
		}
	}
	return false, true, invalidAttr(name, fmt.Sprintf("'%s' cannot be converted to boolean", pyStr(v)))
}

// intAttr is neutron_lib's convert_to_int followed by a range check.
func intAttr(res map[string]any, name string, lo, hi int) (int, bool, error) {
	v, ok := res[name]
	if !ok {
		return 0, false, nil
	}
	n, isInt, tooBig := pyInt(v)
	if !isInt {
		return 0, true, invalidAttr(name, fmt.Sprintf("'%s' is not an integer", pyStr(v)))
	}
	if tooBig || n < lo || n > hi {
		return 0, true, invalidAttr(name, fmt.Sprintf("'%s' is not in range %d through %d", pyStr(v), lo, hi))
	}
	return n, true, nil
}

func ipAttr(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", invalidAttr(name, fmt.Sprintf("'%s' is not a valid IP address", pyStr(v)))
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return "", invalidAttr(name, fmt.Sprintf("'%s' is not a valid IP address", s))
	}
	return ip.String(), nil
}

// macAttr is neutron_lib's validate_mac_address, which refuses the all-zero
// and broadcast MACs; l2gw refuses every multicast MAC too: a port's MAC
// becomes a switch's Ucast_Macs_Remote row, which must be unicast.
func macAttr(name string, v any) (string, error) {
	if s, ok := v.(string); ok {
		if mac, ok := model.UnicastMAC(s); ok {
			return mac, nil
		}
	}
	return "", invalidAttr(name, fmt.Sprintf("'%s' is not a valid MAC address", pyStr(v)))
}
