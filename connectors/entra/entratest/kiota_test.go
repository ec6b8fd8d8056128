package entratest

import (
	"strings"
	"testing"
)

func TestRoutesAgreeWithKiota(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	q, err := checkRoutesAgainstKiota(root)
	if err != nil {
		t.Fatal(err)
	}
	if !q["/users"]["$filter"] || !q["/users"]["$select"] || q["/users"]["$skip"] {
		t.Errorf("/users query options %v", q["/users"])
	}
	n := 0
	for _, rt := range routes {
		if strings.HasPrefix(rt.pattern, "/users") {
			n++
			if q[rt.pattern] == nil {
				t.Errorf("%s %s not checked", rt.method, rt.pattern)
			}
		}
	}
	if n < 7 {
		t.Errorf("%d /users routes checked", n)
	}
}

// TestKiotaCheckBites: a route the Graph users API does not have, or with
// the wrong method or body type, is refused.
func TestKiotaCheckBites(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	saved := routes
	defer func() { routes = saved }()
	for _, tc := range []struct {
		rt   route
		want string
	}{
		{route{method: "GET", pattern: "/users/{id}/licenseDetailz"}, "no such path"},
		{route{method: "PUT", pattern: "/users/{id}/revokeSignInSessions"}, "has no PUT"},
		{route{method: "POST", pattern: "/users", reqType: "Group", respType: "User"}, `body "User" per the Graph users API, the table says "Group"`},
		{route{method: "GET", pattern: "/users/{id}/memberOf", respType: "User", collection: true}, "answers DirectoryObjectCollectionResponse"},
		{route{method: "GET", pattern: "/users/{id}", respType: "User"}, ""},
	} {
		routes = []route{tc.rt}
		_, err := checkRoutesAgainstKiota(root)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.rt.method, tc.rt.pattern, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %s: err %v, want %q", tc.rt.method, tc.rt.pattern, err, tc.want)
		}
	}
}
