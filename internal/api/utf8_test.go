package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// jsonStrings returns every string of a decoded JSON value, keys included.
func jsonStrings(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		out = append(out, x)
	case []any:
		for _, e := range x {
			out = jsonStrings(e, out)
		}
	case map[string]any:
		for k, e := range x {
			out = jsonStrings(e, append(out, k))
		}
	}
	return out
}

// FuzzCheckUTF8: a JSON text CheckUTF8 accepts decodes without
// encoding/json having replaced anything: a U+FFFD in a decoded string must
// have been sent as one (raw or escaped). A refusal is a 400 fault.
func FuzzCheckUTF8(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, "{\"a\":\"\xff\"}", `{"a":"\udc80"}`, `{"a":"\ud83d\ude00"}`, `{"a":"\ud83d\u0041"}`,
		`["\ud800\\ud800", "\ufffd"]`, "{\"\xc3\":[1,{\"b\":\"\xed\xa0\x80\"}]}", `{"a":"\\udc80"}`, "\"\xef\xbf\xbd\"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v any
		if json.Unmarshal(body, &v) != nil {
			return
		}
		if err := CheckUTF8(body); err != nil {
			if statusOf(err) != 400 {
				t.Fatalf("CheckUTF8(%q) = %v; want a 400", body, err)
			}
			return
		}
		sentFFFD := bytes.Contains(body, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`))
		for _, s := range jsonStrings(v, nil) {
			if strings.ContainsRune(s, '\uFFFD') && !sentFFFD {
				t.Fatalf("CheckUTF8(%q) = nil, but it decodes to %q (a replacement)", body, s)
			}
		}
	})
}
