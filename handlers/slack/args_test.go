package slackhandlers

import (
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/gatehousehq/gatehouse"
)

var today = gatehouse.Date{Year: 2026, Month: 11, Day: 26}

func TestParseOffboard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    OffboardArgs
		wantErr bool
	}{
		{in: "<@U123ABC|ada>", want: OffboardArgs{Target: Target{UserID: "U123ABC"}, Now: true}},
		{in: "<@W0XYZ>  now", want: OffboardArgs{Target: Target{UserID: "W0XYZ"}, Now: true}},
		{in: "Ada@Example.com 2026-12-01", want: OffboardArgs{Target: Target{Email: "ada@example.com"}, Date: gatehouse.Date{Year: 2026, Month: 12, Day: 1}}},
		{in: "<mailto:ada@example.com|ada@example.com> NOW", want: OffboardArgs{Target: Target{Email: "ada@example.com"}, Now: true}},
		{in: "ada@example.com 2026-11-26", want: OffboardArgs{Target: Target{Email: "ada@example.com"}, Now: true}},
		{in: "", wantErr: true},
		{in: "@ada", wantErr: true},
		{in: "ada", wantErr: true},
		{in: "ada@example.com tomorrow", wantErr: true},
		{in: "ada@example.com 2020-01-01", wantErr: true},
		{in: "ada@example.com now extra", wantErr: true},
		{in: "<@U1>", wantErr: true}, // too short to be a user id
	} {
		got, err := ParseOffboard(tc.in, today)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseOffboard(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrUsage) {
			t.Errorf("ParseOffboard(%q) err %v is not a usage error", tc.in, err)
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseOffboard(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseAccess(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    AccessArgs
		wantErr bool
	}{
		{in: "", want: AccessArgs{Verb: AccessSelf}},
		{in: "  help ", want: AccessArgs{Verb: AccessHelp}},
		{in: "request", want: AccessArgs{Verb: AccessRequest}},
		{in: "request aws", wantErr: true},
		{in: "<@U0ADA|ada>", want: AccessArgs{Verb: AccessUser, Target: Target{UserID: "U0ADA"}}},
		{in: "why github:engineering", want: AccessArgs{Verb: AccessWhy, Ref: gatehouse.EntitlementRef{App: "github", Entitlement: "engineering"}}},
		{in: "why okta", want: AccessArgs{Verb: AccessWhy, Ref: gatehouse.EntitlementRef{App: "okta", Entitlement: "account"}}},
		{in: "why okta <@U0ADA>", want: AccessArgs{Verb: AccessWhy, Ref: gatehouse.EntitlementRef{App: "okta", Entitlement: "account"}, Target: Target{UserID: "U0ADA"}}},
		{in: "why", wantErr: true},
		{in: "why a:b:c", wantErr: true},
		{in: "why github: ", wantErr: true},
		{in: "bob", wantErr: true},
		{in: "a@b.co c@d.co", wantErr: true},
	} {
		got, err := ParseAccess(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseAccess(%q) err = %v, wantErr %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseAccess(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseOnboard(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string
		wantErr bool
	}{{"", "", false}, {"ADA@example.com", "ada@example.com", false}, {"<@U0ADA>", "", true}, {"a b", "", true}, {"x", "", true}} {
		got, err := ParseOnboard(tc.in)
		if (err != nil) != tc.wantErr || got.Email != tc.want {
			t.Errorf("ParseOnboard(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestOnboardFormIdentity(t *testing.T) {
	base := OnboardForm{Name: "Ada", Email: "ada@example.com", StartDate: "2026-12-01", Kind: "employee"}
	for _, tc := range []struct {
		name   string
		edit   func(*OnboardForm)
		fields []string
	}{
		{"valid", func(*OnboardForm) {}, nil},
		{"missing name and email", func(f *OnboardForm) { f.Name, f.Email = "", "" }, []string{FieldEmail, FieldName}},
		{"bad email", func(f *OnboardForm) { f.Email = "ada" }, []string{FieldEmail}},
		{"contractor without end", func(f *OnboardForm) { f.Kind = "contractor" }, []string{FieldEndDate}},
		{"end before start", func(f *OnboardForm) { f.EndDate = "2026-11-30" }, []string{FieldEndDate}},
		{"bot kind", func(f *OnboardForm) { f.Kind = "bot" }, []string{FieldKind}},
		{"own manager", func(f *OnboardForm) { f.ManagerEmail = "ADA@example.com" }, []string{FieldManager}},
		{"picked manager without email", func(f *OnboardForm) { f.ManagerUserID = "U9" }, []string{FieldManager}},
		{"no start", func(f *OnboardForm) { f.StartDate = "" }, []string{FieldStartDate}},
		{"newline in name", func(f *OnboardForm) { f.Name = "a\nb" }, []string{FieldName}},
	} {
		f := base
		tc.edit(&f)
		_, errs := f.Identity(today)
		got := errs.Keys()
		if len(got) != len(tc.fields) {
			t.Errorf("%s: errors %v, want fields %v", tc.name, errs, tc.fields)
			continue
		}
		for i := range got {
			if got[i] != tc.fields[i] {
				t.Errorf("%s: errors %v, want fields %v", tc.name, errs, tc.fields)
			}
		}
	}
}

// FuzzParseCommands feeds arbitrary text to every slash-command parser: none
// may panic, and every error must be a usage error with valid UTF-8 text
// safe to show the user.
func FuzzParseCommands(f *testing.F) {
	for _, s := range []string{"", "<@U123|ada> now", "why github:eng", "request", "ada@example.com 2026-12-01", "<mailto:a@b.co|a@b.co>", "\x00\xff", "why ::", "<@U1|>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(err error) {
			if err != nil && !errors.Is(err, ErrUsage) {
				t.Fatalf("%q: non-usage error %v", s, err)
			}
			if err != nil && utf8.ValidString(s) && !utf8.ValidString(err.Error()) {
				t.Fatalf("%q: invalid UTF-8 in %q", s, err.Error())
			}
		}
		_, err := ParseOnboard(s)
		check(err)
		a, err := ParseOffboard(s, today)
		check(err)
		if err == nil && a.Target.IsZero() {
			t.Fatalf("%q: offboard without a target", s)
		}
		_, err = ParseAccess(s)
		check(err)
	})
}
