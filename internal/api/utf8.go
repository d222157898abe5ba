package api

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/l2gw/l2gw/internal/model"
)

// CheckUTF8 refuses a JSON text holding a string that is not valid UTF-8
// or that escapes an unpaired UTF-16 surrogate (RFC 8259 sections 8.1 and
// 8.2). encoding/json decodes either to U+FFFD, which would silently change
// names (of gateways, devices, interfaces, hosts) into something else.
// body must be JSON that encoding/json accepts. The 400 names the JSON path
// of the string, e.g. "l2_gateway.devices[0].interfaces[1].name".
func CheckUTF8(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\ud`)) && !bytes.Contains(body, []byte(`\uD`)) {
		return nil // the common case, without a scan
	}
	var path []pathElem
	expectKey := false
	for i := 0; i < len(body); {
		switch c := body[i]; c {
		case '{':
			path = append(path, pathElem{})
			expectKey = true
			i++
		case '[':
			path = append(path, pathElem{array: true})
			expectKey = false
			i++
		case '}', ']':
			path = path[:len(path)-1]
			i++
		case ',':
			if top := len(path) - 1; top >= 0 {
				if path[top].array {
					path[top].index++
				} else {
					expectKey = true
				}
			}
			i++
		case ':':
			expectKey = false
			i++
		case '"':
			end, bad := scanString(body, i)
			if bad != "" {
				where := pathString(path)
				if expectKey {
					where = "an attribute name in " + pathString(path[:len(path)-1])
				}
				return model.NewFault(model.ErrInvalid, "HTTPBadRequest", "Invalid input for %s. Reason: %s; JSON strings must be Unicode text (RFC 8259 section 8).", where, bad)
			}
			if expectKey && len(path) > 0 {
				path[len(path)-1].key = string(body[i+1 : end-1])
			}
			i = end
		default:
			i++
		}
	}
	return nil
}

// pathElem is one level of the JSON path CheckUTF8 reports: an object's
// current key or an array's current index.
type pathElem struct {
	array bool
	key   string
	index int
}

func pathString(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		if e.array {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	if b.Len() == 0 {
		return "the request body"
	}
	return b.String()
}

// scanString scans the JSON string starting with the quote at body[start]
// and returns the index after its closing quote, and why it is not Unicode
// text ("" when it is).
func scanString(body []byte, start int) (end int, bad string) {
	for i := start + 1; i < len(body); {
		c := body[i]
		switch {
		case c == '"':
			return i + 1, ""
		case c == '\\' && i+1 < len(body) && body[i+1] == 'u':
			r := hex4(body, i+2)
			switch {
			case r >= 0xD800 && r < 0xDC00:
				if i+11 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
					if lo := hex4(body, i+8); lo >= 0xDC00 && lo < 0xE000 {
						i += 12
						continue
					}
				}
				return 0, fmt.Sprintf(`unpaired surrogate escape \u%04x at byte %d`, r, i)
			case r >= 0xDC00 && r < 0xE000:
				return 0, fmt.Sprintf(`unpaired surrogate escape \u%04x at byte %d`, r, i)
			}
			i += 6
		case c == '\\':
			i += 2
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, fmt.Sprintf("not valid UTF-8 (byte 0x%02x at byte %d)", c, i)
			}
			i += size
		}
	}
	return len(body), ""
}

// hex4 reads the 4 hex digits of a \u escape at body[i:], -1 if malformed.
func hex4(body []byte, i int) int {
	if i+4 > len(body) {
		return -1
	}
	v, err := strconv.ParseUint(string(body[i:i+4]), 16, 32)
	if err != nil {
		return -1
	}
	return int(v)
}
