package gatehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{"2026-03-01", "2026-03-01", false},
		{"2026-03-01T23:30:00-08:00", "2026-03-01", false},
		{"", "", false},
		{"01/03/2026", "", true},
		{"2026-02-30", "", true},
	}
	for _, tt := range tests {
		d, err := ParseDate(tt.in)
		if (err != nil) != tt.wantErr || d.String() != tt.want {
			t.Errorf("ParseDate(%q) = %q, %v", tt.in, d, err)
		}
	}
}

func TestDateInZone(t *testing.T) {
	d := Date{2026, time.December, 1}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	got := d.In(berlin).UTC()
	if want := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("midnight in Berlin = %s, want %s", got, want)
	}
	b, _ := json.Marshal(struct {
		D Date `json:"d"`
	}{d})
	if string(b) != `{"d":"2026-12-01"}` {
		t.Errorf("json = %s", b)
	}
}

func TestIdentityValidate(t *testing.T) {
	base := Identity{Kind: KindEmployee, Email: "ada@example.com", Name: "Ada"}
	tests := []struct {
		name string
		mut  func(*Identity)
		want string // substring of the error, "" for valid
	}{
		{"valid", func(*Identity) {}, ""},
		{"bad kind", func(i *Identity) { i.Kind = "robot" }, "kind"},
		{"no email", func(i *Identity) { i.Email = "" }, "email is required"},
		{"bad email", func(i *Identity) { i.Email = "ada at example" }, "not a valid address"},
		{"self manager", func(i *Identity) { i.ManagerEmail = "ada@example.com" }, "must not be the person"},
		{"end before start", func(i *Identity) {
			i.StartDate = Date{2026, 5, 1}
			i.EndDate = Date{2026, 4, 1}
		}, "before start_date"},
		{"contractor without end", func(i *Identity) { i.Kind = KindContractor }, "contract end"},
		{"bot without owner", func(i *Identity) { i.Kind = KindBot }, "no owner, no access"},
		{"bad zone", func(i *Identity) { i.TimeZone = "Mars/Olympus" }, "IANA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := base
			tt.mut(&id)
			err := id.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestIdentityKey(t *testing.T) {
	if k := (Identity{Email: " Ada@Example.com"}).Key(); k != "ada@example.com" {
		t.Errorf("key = %q", k)
	}
	if k := (Identity{Email: "a@example.com", EmployeeID: "42"}).Key(); k != "emp:42" {
		t.Errorf("key = %q", k)
	}
}

func TestParseEntitlementRef(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"github:admin", "github:admin", true},
		{"github", "github:account", true},
		{"github:", "", false},
		{":x", "", false},
		{"a:b:c", "", false},
		{"a b", "", false},
	}
	for _, tt := range tests {
		r, err := ParseEntitlementRef(tt.in)
		if (err == nil) != tt.ok || (tt.ok && r.String() != tt.want) {
			t.Errorf("ParseEntitlementRef(%q) = %v, %v", tt.in, r, err)
		}
	}
}

func TestClassify(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		err   error
		class ErrorClass
		after time.Duration
	}{
		{Retryable(base), ClassRetryable, 0},
		{fmt.Errorf("wrapped: %w", RateLimited(3*time.Second, base)), ClassRateLimited, 3 * time.Second},
		{Permanent(base), ClassPermanent, 0},
		{NotFound(base), ClassNotFound, 0},
		{fmt.Errorf("x: %w", ErrNotFound), ClassNotFound, 0},
		{fmt.Errorf("x: %w", ErrUnsupported), ClassPermanent, 0},
		{Pending("t-1"), ClassPending, 0},
		{context.DeadlineExceeded, ClassRetryable, 0},
		{base, ClassUnknown, 0},
	}
	for _, tt := range tests {
		if c := Classify(tt.err); c != tt.class {
			t.Errorf("Classify(%v) = %s, want %s", tt.err, c, tt.class)
		}
		if a := RetryAfterOf(tt.err); a != tt.after {
			t.Errorf("RetryAfterOf(%v) = %s", tt.err, a)
		}
	}
	if !errors.Is(NotFound(base), ErrNotFound) || !errors.Is(NotFound(base), base) {
		t.Error("NotFound must match ErrNotFound and the cause")
	}
	if ClassPending.String() != "pending" || ErrorClass(99).String() != "unknown" {
		t.Error("class names")
	}
}

func TestRiskText(t *testing.T) {
	for _, r := range Risks {
		var back Risk
		b, _ := r.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("round trip %s: %v", r, err)
		}
	}
	if _, err := ParseRisk("extreme"); err == nil {
		t.Error("extreme accepted")
	}
}

func TestGrantActive(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := Grant{GrantedAt: t0, RevokedAt: t0.Add(time.Hour)}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{{t0.Add(-time.Second), false}, {t0, true}, {t0.Add(59 * time.Minute), true}, {t0.Add(time.Hour), false}} {
		if g.Active(c.at) != c.want {
			t.Errorf("Active(%s) != %v", c.at, c.want)
		}
	}
}

func TestEmbeddedExamples(t *testing.T) {
	if len(ExampleConfig()) == 0 {
		t.Fatal("example config not embedded")
	}
	people := ExamplePeople()
	if len(people) < 5 {
		t.Fatalf("only %d sample people embedded", len(people))
	}
	for name, b := range people {
		var id Identity
		if err := json.Unmarshal(b, &id); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestAccountRefField(t *testing.T) {
	r := AccountRef{IdentityKey: "emp:1", Email: "ada@example.com", UserName: "ada", Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace",
		EmployeeID: "1", Title: "Engineer", Department: "Eng", Manager: "grace@example.com"}
	for _, c := range []struct{ name, want string }{
		{"email", "ada@example.com"}, {"user_name", "ada"}, {"name", "Ada Lovelace"}, {"given_name", "Ada"}, {"family_name", "Lovelace"},
		{"employee_id", "1"}, {"title", "Engineer"}, {"department", "Eng"}, {"manager", "grace@example.com"}, {"identity_key", "emp:1"},
	} {
		if v, ok := r.Field(c.name); !ok || v != c.want {
			t.Errorf("Field(%q) = %q, %v; want %q", c.name, v, ok, c.want)
		}
	}
	for _, name := range []string{"", "uid", "attributes.x", "Email"} {
		if _, ok := r.Field(name); ok {
			t.Errorf("Field(%q) claims a field", name)
		}
	}
}
