package httpx

import (
	"net/http"
	"strings"
)

// maxLinkHeader bounds the Link header value NextLink reads: a hostile
// server must not make paging parse megabytes.
const maxLinkHeader = 16 << 10

// NextLink returns the target of the rel="next" link in h's Link headers
// (RFC 8288), or "". Every Link header is read, since some vendors (Okta)
// send one header per relation and others (GitHub) one header with
// comma-separated links; commas inside <URL> do not split. rel may list
// several relations ("last next") and is matched case-insensitively. The
// result never holds an angle bracket and is always part of a header.
func NextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		if len(v) > maxLinkHeader {
			continue
		}
		for _, part := range splitLinks(v) {
			target, params, ok := strings.Cut(part, ";")
			if !ok {
				continue
			}
			target = strings.TrimSpace(target)
			if len(target) < 2 || target[0] != '<' || target[len(target)-1] != '>' ||
				strings.ContainsAny(target[1:len(target)-1], "<>") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header value at the commas between links, not
// at commas inside <URL>.
func splitLinks(v string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '<':
			depth++
		case '>':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}
