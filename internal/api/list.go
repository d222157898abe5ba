package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// Query parameters that are not attribute filters.
var reservedParams = map[string]bool{
	"fields": true, "limit": true, "marker": true, "page_reverse": true,
	"sort_key": true, "sort_dir": true,
}

// collection describes how to list one resource of wire type N.
type collection[N any] struct {
	res neutron.Resource
	// kind, when the store serves this list from memory, lets the encoded
	// bodies be kept between commits (listCache); empty: never kept.
	kind store.Kind
	// list reads from the store and converts to wire objects.
	list func(ctx context.Context, q store.Query) ([]N, error)
	id   func(N) string // paging key; nil: no paging
	// cursor is an item's store.Query.Marker when the store pages by
	// another key than id (switches: their name); nil means id.
	cursor func(N) string
	// attr returns the values of a filterable attribute as strings, ok false
	// for an attribute the resource does not have (the filter is ignored).
	attr func(n N, key string) (vals []string, ok bool)
	// push narrows the store query by a filter, ok false when the store
	// cannot (the filter is applied in memory only).
	push func(q *store.Query, key string, vals []string) bool
}

// listParams are a list request's parsed query parameters.
type listParams struct {
	fields      []string
	filters     map[string][]string
	limit       int
	marker      string
	pageReverse bool
}

// parseListParams reads fields, filters, paging and refuses sorting as
// networking-l2gw does (neutron api_common.get_sorts / get_limit_and_marker).
func parseListParams(q url.Values) (listParams, error) {
	p := listParams{filters: map[string][]string{}}
	if keys := nonEmpty(q["sort_key"]); len(keys) > 0 {
		return p, badRequest("%s is invalid attribute for sort_keys", pyRepr(toAny(keys)))
	}
	if dirs := nonEmpty(q["sort_dir"]); len(dirs) > 0 {
		return p, badRequest("The number of sort_keys and sort_dirs must be same")
	}
	p.fields = nonEmpty(q["fields"])
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || n < 0 {
			return p, model.NewFault(model.ErrInvalid, "BadRequest", "Bad limit request: Limit must be an integer 0 or greater and not '%s'.", l)
		}
		p.limit = n
	}
	if p.limit > 0 {
		p.marker = q.Get("marker")
		p.pageReverse = strings.EqualFold(q.Get("page_reverse"), "true")
	}
	for k, vs := range q {
		if reservedParams[k] {
			continue
		}
		p.filters[k] = vs
	}
	return p, nil
}

func nonEmpty(vs []string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// serveList answers a list request for c.
func serveList[N any](h *handler, w http.ResponseWriter, r *http.Request, c collection[N]) {
	p, err := parseListParams(r.URL.Query())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	gen, cacheable := h.lists.generation(c.kind)
	var key string
	if cacheable {
		// The body depends on the query and, through the paging links, on
		// the request's base URL and path.
		key = r.URL.Path + "?" + r.URL.RawQuery
		if p.limit > 0 {
			key = requestBase(r) + key
		}
		if b, ok := h.lists.get(c.kind, gen, key); ok {
			writeJSONBytes(w, http.StatusOK, b)
			return
		}
	}
	if !cacheable && c.id != nil && p.limit == 0 {
		streamList(h, w, r, c, p)
		return
	}
	b, err := listBody(r, c, p, h.encodes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if cacheable {
		h.lists.put(c.kind, gen, key, b)
	}
	writeJSONBytes(w, http.StatusOK, b)
}

// listChunk is how many items a streamed list reads from the store at a
// time.
const listChunk = 500

// streamList answers a whole list (no paging asked) of a collection the
// store pages by ID, reading and writing listChunk items at a time: a
// slow reader makes the server hold one chunk and a small buffer, not the
// list and its encoded body (eight readers of a 12 MB port list took
// 105 MB when each held its body). Each chunk is read as committed when it
// is read; an item changed meanwhile shows as it was or as it is, never
// twice (the chunks follow the store's order). Bodies are those json.Marshal makes of
// the whole list.
func streamList[N any](h *handler, w http.ResponseWriter, r *http.Request, c collection[N], p listParams) {
	q, _ := storeQuery(c, p)
	q.Limit = listChunk
	items, err := c.list(r.Context(), q)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	key, _ := json.Marshal(c.res.Collection)
	bw.WriteByte('{')
	bw.Write(key)
	bw.WriteString(":[")
	first := true
	for {
		for _, it := range filterItems(items, p.filters, c.attr) {
			if !first {
				bw.WriteByte(',')
			}
			first = false
			bw.Write(pick(it, p.fields))
		}
		if len(items) < listChunk {
			break
		}
		// A reader that went away or missed the write deadline: stop.
		if err := bw.Flush(); err != nil {
			return
		}
		cursor := c.id
		if c.cursor != nil {
			cursor = c.cursor
		}
		next := cursor(items[len(items)-1])
		if next == q.Marker {
			// A store that does not page by the cursor would send the
			// same chunk for ever: cut the answer instead. (Equality
			// only: the database's collation orders the keys, not Go.)
			h.log.ErrorContext(r.Context(), "list cut: the store does not page by the collection's cursor", "collection", c.res.Collection)
			panic(http.ErrAbortHandler)
		}
		q.Marker = next
		if items, err = c.list(r.Context(), q); err != nil {
			// The status is sent: cut the answer so that the client sees
			// a broken body, not a shorter list.
			if r.Context().Err() == nil {
				h.log.WarnContext(r.Context(), "list cut after a store error", "collection", c.res.Collection, "err", err)
			}
			panic(http.ErrAbortHandler)
		}
	}
	bw.WriteString("]}")
	_ = bw.Flush()
}

// listBody reads the list and encodes the response body. A list of more
// than bigList items is encoded only with a slot of encodes held.
func listBody[N any](r *http.Request, c collection[N], p listParams, encodes chan struct{}) ([]byte, error) {
	q, pushedAll := storeQuery(c, p)
	paged := c.id != nil && p.limit > 0
	// The store pages by the marker only when it orders by id.
	if paged && !p.pageReverse && c.cursor == nil {
		q.Marker = p.marker
		if pushedAll {
			q.Limit = p.limit
		}
	}
	items, err := c.list(r.Context(), q)
	if err != nil {
		return nil, err
	}
	items = filterItems(items, p.filters, c.attr)
	if c.id == nil && p.limit > 0 && len(items) > p.limit {
		items = items[:p.limit]
	}
	var links []neutron.Link
	if paged {
		lo, hi := 0, len(items)
		switch {
		case p.marker != "" && c.cursor != nil:
			// Ordered by another key than the id: the marker is found by
			// position; a marker no longer listed has nothing around it.
			i := slices.IndexFunc(items, func(n N) bool { return c.id(n) == p.marker })
			switch {
			case i < 0:
				lo = hi
			case p.pageReverse:
				hi = i
			default:
				lo = i + 1
			}
		case p.marker != "" && p.pageReverse:
			if i := slices.IndexFunc(items, func(n N) bool { return c.id(n) >= p.marker }); i >= 0 {
				hi = i
			}
		}
		items = items[lo:hi]
		if p.pageReverse {
			items = items[max(0, len(items)-p.limit):]
		} else if len(items) > p.limit {
			items = items[:p.limit]
		}
		links = pageLinks(r, len(items), p, func(i int) string { return c.id(items[i]) })
	}
	if len(items) > bigList {
		select {
		case encodes <- struct{}{}:
			defer func() { <-encodes }()
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	}
	body := map[string]any{c.res.Collection: selectFields(items, p.fields)}
	if len(links) > 0 {
		body[c.res.Collection+neutron.LinksSuffix] = links
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.res.Collection, err)
	}
	return b, nil
}

// storeQuery is the store query of p's filters; pushedAll is false when
// some filter is applied in memory only.
func storeQuery[N any](c collection[N], p listParams) (q store.Query, pushedAll bool) {
	pushedAll = true
	known := map[string][]string{}
	for k, vs := range p.filters {
		if k == "project_id" {
			k = "tenant_id"
		}
		if _, ok := known[k]; ok {
			// The same attribute twice (tenant_id and project_id): intersect in memory.
			pushedAll = false
		}
		known[k] = append(known[k], vs...)
	}
	for k, vs := range known {
		if c.push == nil || !c.push(&q, k, vs) {
			pushedAll = false
		}
	}
	return q, pushedAll
}

// filterItems keeps the items matching every filter (values of one key OR).
// Unknown attributes are ignored, as neutron does.
func filterItems[N any](items []N, filters map[string][]string, attrOf func(N, string) ([]string, bool)) []N {
	if len(filters) == 0 || attrOf == nil {
		return items
	}
	out := items[:0:0]
next:
	for _, it := range items {
		for k, want := range filters {
			if k == "project_id" {
				k = "tenant_id"
			}
			have, ok := attrOf(it, k)
			if !ok {
				continue
			}
			if !slices.ContainsFunc(have, func(v string) bool { return slices.Contains(want, v) }) {
				continue next
			}
		}
		out = append(out, it)
	}
	return out
}

// pageLinks builds neutron's next/previous links (api_common.get_pagination_links).
func pageLinks(r *http.Request, n int, p listParams, idAt func(int) string) []neutron.Link {
	var links []neutron.Link
	base := requestBase(r) + r.URL.Path
	if !(n < p.limit && !p.pageReverse) {
		q := r.URL.Query()
		q.Del("marker")
		if n > 0 {
			q.Set("marker", idAt(n-1))
		}
		q.Del("page_reverse")
		links = append(links, neutron.Link{Rel: "next", Href: base + "?" + q.Encode()})
	}
	if !(n < p.limit && p.pageReverse) {
		q := r.URL.Query()
		q.Del("marker")
		if n > 0 {
			q.Set("marker", idAt(0))
		}
		q.Set("page_reverse", "True")
		links = append(links, neutron.Link{Rel: "previous", Href: base + "?" + q.Encode()})
	}
	return links
}

// requestBase is scheme://host of the request, honouring X-Forwarded-Proto.
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if fh, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Host"), ","); strings.TrimSpace(fh) != "" {
		// Behind a proxy or load balancer: the address the client used.
		host = strings.TrimSpace(fh)
	}
	if p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ","); strings.TrimSpace(p) == "http" || strings.TrimSpace(p) == "https" {
		scheme = strings.TrimSpace(p)
	}
	if host == "" {
		host = "localhost"
	}
	return scheme + "://" + host
}

// selectFields returns items unchanged without fields, else each item
// reduced to the requested keys (in the object's own order).
func selectFields[N any](items []N, fields []string) any {
	if len(fields) == 0 {
		return items
	}
	out := make([]json.RawMessage, len(items))
	for i, it := range items {
		out[i] = pick(it, fields)
	}
	return out
}

// pick marshals v keeping only the given top-level keys.
func pick(v any, fields []string) json.RawMessage {
	if len(fields) == 0 {
		b, _ := json.Marshal(v)
		return b
	}
	full, _ := json.Marshal(v)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(full, &m); err != nil {
		return full
	}
	// Keep the object's key order: walk the marshalled keys.
	dec := json.NewDecoder(strings.NewReader(string(full)))
	var b strings.Builder
	b.WriteByte('{')
	first := true
	_, _ = dec.Token()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		k, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			break
		}
		if !slices.Contains(fields, k) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(raw)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// writeMember answers one object in its envelope, honouring ?fields=.
func writeMember(w http.ResponseWriter, r *http.Request, status int, key string, v any) {
	fields := nonEmpty(r.URL.Query()["fields"])
	writeJSON(w, status, map[string]json.RawMessage{key: pick(v, fields)})
}

// pushCommon pushes the filters every store list understands.
func pushCommon(q *store.Query, key string, vals []string) bool {
	switch key {
	case "id":
		q.IDs = vals
	case "name":
		q.Names = vals
	case "tenant_id":
		q.TenantIDs = vals
	default:
		return false
	}
	return true
}

func boolStr(b bool) []string {
	if b {
		return []string{"True", "true", "1"}
	}
	return []string{"False", "false", "0"}
}

func one(s string) []string { return []string{s} }
