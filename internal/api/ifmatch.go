package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
)

// ifMatchBadRequest is neutron_lib's BadRequest for the if-match resource.
func ifMatchBadRequest(msg string) error {
	return model.NewFault(model.ErrInvalid, "BadRequest", "Bad if-match request: %s.", msg)
}

// ifMatchRevision reads Neutron's revision constraint, an If-Match entity
// tag "revision_number=N" (neutron.api.api_common's
// check_request_for_revision_constraint): nil when the header carries none.
// Tags may be quoted or weak (RFC 9110 section 13.1.1) and listed with
// commas; other tags are ignored, as Neutron does.
func ifMatchRevision(r *http.Request) (*int64, error) {
	var rev *int64
	for _, h := range r.Header.Values("If-Match") {
		for _, tag := range strings.Split(h, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			tag = strings.Trim(tag, `"`)
			v, ok := strings.CutPrefix(tag, "revision_number=")
			if !ok {
				continue
			}
			if rev != nil {
				return nil, ifMatchBadRequest("Multiple revision_number etags are not supported")
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, ifMatchBadRequest("Revision number etag must be in the format of revision_number=<int>")
			}
			rev = &n
		}
	}
	return rev, nil
}

// refuseIfMatch answers a revision constraint where l2gw cannot honour one
// (what: "this resource", a resource without revision numbers, as Neutron
// words it; "this operation") with 400 rather than ignoring it: the caller
// would believe its request was conditional.
func refuseIfMatch(r *http.Request, what string) error {
	rev, err := ifMatchRevision(r)
	if err != nil {
		return err
	}
	if rev != nil {
		return ifMatchBadRequest("Revision matching not supported for " + what)
	}
	return nil
}
