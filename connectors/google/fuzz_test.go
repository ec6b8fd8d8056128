package google

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"unicode/utf8"

	"google.golang.org/api/googleapi"
)

// FuzzParseError feeds hostile bodies to the error parser and checks it
// against Google's own client library: where googleapi reads reasons from
// a body, ParseError reads the same ones.
func FuzzParseError(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"message":"Rate Limit Exceeded","domain":"usageLimits","reason":"rateLimitExceeded"}]}}`,
		`{"error":{"code":404,"message":"Resource Not Found: userKey","errors":[{"reason":"notFound"}]}}`,
		`{"error":{"code":409,"message":"Member already exists.","errors":[{"reason":"duplicate","domain":"global"}],"status":"ALREADY_EXISTS"}}`,
		`{"error":"unauthorized_client","error_description":"Client is unauthorized"}`,
		`{"error":{"code":"x"}}`, `{"error":null}`, `[]`, `<html>`, ``, `{"error":{"errors":[{"reason":7}]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msg, reasons, ok := ParseError(body)
		if !ok && (msg != "" || reasons != nil) {
			t.Fatalf("not ok but returned %q %v", msg, reasons)
		}
		if len(msg) > 400 || len(reasons) > 5 || !utf8.ValidString(msg) {
			t.Fatalf("unbounded or invalid output: %q %v", msg, reasons)
		}
		res := &http.Response{StatusCode: 400, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		var ge *googleapi.Error
		if !errors.As(googleapi.CheckResponse(res), &ge) || !ok || len(ge.Errors) == 0 || len(ge.Errors) > 5 {
			return
		}
		var want []string
		for _, e := range ge.Errors {
			if e.Reason == "" || len(e.Reason) > 64 || !utf8.ValidString(e.Reason) {
				return
			}
			want = append(want, e.Reason)
		}
		if len(want) != len(reasons) {
			t.Fatalf("reasons %v, googleapi reads %v", reasons, want)
		}
		for i := range want {
			if want[i] != reasons[i] {
				t.Fatalf("reasons %v, googleapi reads %v", reasons, want)
			}
		}
	})
}

// FuzzParseUser checks that no user body panics the decoder or yields an
// account without id, and that last login is never before the epoch.
func FuzzParseUser(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","primaryEmail":"a@example.com","suspended":true,"lastLoginTime":"1970-01-01T00:00:00.000Z","organizations":[{"title":"T","primary":true}],"relations":[{"type":"manager","value":"m@example.com"}]}`,
		`{"id":"2","primaryEmail":"b@example.com","lastLoginTime":"2026-01-02T03:04:05.000Z","organizations":"odd","relations":{},"externalIds":[{"type":"organization","value":"E1"}]}`,
		`{"id":"","primaryEmail":""}`, `null`, `{"name":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := ParseUser(body)
		if err != nil {
			return
		}
		a := u.account()
		if a.ID == "" || a.Email == "" {
			t.Fatalf("account without id or email: %+v", a)
		}
		if !a.LastActivity.IsZero() && a.LastActivity.Unix() <= 0 {
			t.Fatalf("last activity %v at or before the epoch", a.LastActivity)
		}
		if a.Active == u.Suspended {
			t.Fatalf("active %v for suspended %v", a.Active, u.Suspended)
		}
	})
}
