package ldap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	goldap "github.com/go-ldap/ldap/v3"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339, "" for no time
	}{
		{"20261126222636Z", "2026-11-26T22:26:36Z"},
		{"20261126222636.123Z", "2026-11-26T22:26:36.123Z"},
		{"20261126222636,5Z", "2026-11-26T22:26:36.5Z"},
		{"20261126222636+0100", "2026-11-26T21:26:36Z"},
		{"202611262226Z", "2026-11-26T22:26:00Z"},
		{"133786944000000000", "2024-12-15T00:00:00Z"}, // AD FILETIME
		{"0", ""},
		{"", ""},
		{"yesterday", ""},
		{"99999999999999999999999", ""},
		{"20261399999999Z", ""},
	}
	for _, tc := range tests {
		got, ok := parseTime(tc.in)
		if tc.want == "" {
			if ok {
				t.Errorf("parseTime(%q) = %v, want none", tc.in, got)
			}
			continue
		}
		if !ok || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("parseTime(%q) = %v, %v; want %s", tc.in, got.Format(time.RFC3339Nano), ok, tc.want)
		}
	}
}

func testMapping(method string) mapping {
	d, _ := goldap.ParseDN("ou=disabled,dc=example,dc=com")
	return mapping{
		idAttr: "entryUUID", rdnAttr: "uid", lastActivityAttr: "authTimestamp", mailAttr: "mail", nameAttr: "cn",
		employeeAttr: "employeeNumber", disableMethod: method, disableAttr: "employeeType", disableValue: "disabled", disabledDN: d,
	}
}

func TestEntryToAccount(t *testing.T) {
	tests := []struct {
		name   string
		method string
		dn     string
		attrs  map[string][]string
		check  func(t *testing.T, m mapping, e *goldap.Entry)
	}{
		{"attribute disabled", DisableAttribute, "uid=a,ou=people,dc=example,dc=com",
			map[string][]string{"entryUUID": {"u-1"}, "employeeType": {"contractor", "DISABLED"}, "mail": {"a@x"},
				"authTimestamp": {"20260101000000Z", "20260301000000Z"}},
			func(t *testing.T, m mapping, e *goldap.Entry) {
				a := m.entryToAccount(e)
				if a.ID != "u-1" || a.Active || a.UserName != "a" || a.LastActivity.Month() != 3 {
					t.Fatalf("%+v", a)
				}
			}},
		{"moved", DisableMove, "uid=b,ou=disabled,dc=example,dc=com", map[string][]string{"uid": {"b"}},
			func(t *testing.T, m mapping, e *goldap.Entry) {
				a := m.entryToAccount(e)
				if a.Active || a.ID != e.DN {
					t.Fatalf("%+v", a)
				}
			}},
		{"garbage dn", DisableMove, "not a dn", nil,
			func(t *testing.T, m mapping, e *goldap.Entry) {
				if a := m.entryToAccount(e); !a.Active || a.UserName != "" {
					t.Fatalf("%+v", a)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, testMapping(tc.method), goldap.NewEntry(tc.dn, tc.attrs))
		})
	}
}

// FuzzLDAPEntryToAccount feeds arbitrary server responses (DN, attribute
// values, timestamps) to the conversion: it must never panic.
func FuzzLDAPEntryToAccount(f *testing.F) {
	f.Add("uid=a,ou=people,dc=example,dc=com", "a", "a@example.com", "20260101000000Z", "disabled", "u-1")
	f.Add("uid=a\\2Cb+cn=x,ou=disabled,dc=example,dc=com", "", "", "133786944000000000", "", "")
	f.Add(",,==\\", "\x00", "", "2026010100.5-9999", "DISABLED", "")
	f.Fuzz(func(t *testing.T, dn, uid, mail, ts, etype, id string) {
		e := goldap.NewEntry(dn, map[string][]string{
			"uid": {uid}, "mail": {mail}, "authTimestamp": {ts, ts + "Z"}, "employeeType": {etype}, "entryUUID": {id},
		})
		for _, method := range []string{DisableAttribute, DisableMove, DisableDelete} {
			a := testMapping(method).entryToAccount(e)
			if a.ID == "" && dn != "" {
				t.Fatalf("empty id for dn %q", dn)
			}
		}
		_ = rdnValue(dn, "uid")
		_, _ = parseTime(ts)
	})
}

func TestClassify(t *testing.T) {
	c := &Connector{name: "dir"}
	tests := []struct {
		err  error
		want gatehouse.ErrorClass
	}{
		{goldap.NewError(goldap.LDAPResultBusy, errors.New("busy")), gatehouse.ClassRetryable},
		{goldap.NewError(goldap.LDAPResultUnavailable, errors.New("unavailable")), gatehouse.ClassRetryable},
		{goldap.NewError(goldap.ErrorNetwork, errors.New("connection closed")), gatehouse.ClassRetryable},
		{goldap.NewError(goldap.LDAPResultTimeLimitExceeded, errors.New("slow")), gatehouse.ClassRetryable},
		{goldap.NewError(goldap.LDAPResultInsufficientAccessRights, errors.New("no")), gatehouse.ClassPermanent},
		{goldap.NewError(goldap.LDAPResultInvalidCredentials, errors.New("no")), gatehouse.ClassPermanent},
		{goldap.NewError(goldap.LDAPResultObjectClassViolation, errors.New("schema")), gatehouse.ClassPermanent},
		{goldap.NewError(goldap.LDAPResultNoSuchObject, errors.New("gone")), gatehouse.ClassNotFound},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, gatehouse.ClassRetryable},
		{fmt.Errorf("read: %w", io.EOF), gatehouse.ClassRetryable},
		{gatehouse.Permanent(errors.New("already classified")), gatehouse.ClassPermanent},
		{context.Canceled, gatehouse.ClassRetryable},
		{errors.New("mystery"), gatehouse.ClassUnknown},
	}
	for _, tc := range tests {
		err := c.classify("op", tc.err)
		if got := gatehouse.Classify(err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("classify(%v) lost the cause: %v", tc.err, err)
		}
	}
}
