package governance

import (
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// index finds the identity an app account belongs to in constant time, by
// the same keys the engine's leaver discovery uses (email, employee id, a
// user name equal to the email or to the identity's "username" attribute,
// and — for accounts that carry neither email nor employee id — the email's
// local part). A digest matches tens of thousands of accounts, so a pairwise
// comparison is not an option.
type index struct {
	byKey, byEmail, byEmployee, byUser, byLocal map[string]gatehouse.Identity
	ambiguousLocal                              map[string]bool
}

func newIndex(ids []gatehouse.Identity) *index {
	ix := &index{byKey: map[string]gatehouse.Identity{}, byEmail: map[string]gatehouse.Identity{}, byEmployee: map[string]gatehouse.Identity{},
		byUser: map[string]gatehouse.Identity{}, byLocal: map[string]gatehouse.Identity{}, ambiguousLocal: map[string]bool{}}
	for _, id := range ids {
		ix.byKey[id.Key()] = id
		email := strings.ToLower(id.Email)
		if email != "" {
			ix.byEmail[email] = id
			local, _, _ := strings.Cut(email, "@")
			if prev, dup := ix.byLocal[local]; dup && prev.Key() != id.Key() {
				ix.ambiguousLocal[local] = true
			}
			ix.byLocal[local] = id
		}
		if id.EmployeeID != "" {
			ix.byEmployee[id.EmployeeID] = id
		}
		if u := strings.ToLower(id.Attr("username")); u != "" {
			ix.byUser[u] = id
		}
	}
	return ix
}

func (ix *index) match(a gatehouse.Account) (gatehouse.Identity, bool) {
	if a.Email != "" {
		if id, ok := ix.byEmail[strings.ToLower(a.Email)]; ok {
			return id, true
		}
	}
	if a.EmployeeID != "" {
		if id, ok := ix.byEmployee[a.EmployeeID]; ok {
			return id, true
		}
	}
	u := strings.ToLower(strings.TrimSpace(a.UserName))
	if u == "" {
		return gatehouse.Identity{}, false
	}
	if id, ok := ix.byEmail[u]; ok {
		return id, true
	}
	if id, ok := ix.byUser[u]; ok {
		return id, true
	}
	if a.Email == "" && a.EmployeeID == "" && !strings.Contains(u, "@") && !ix.ambiguousLocal[u] {
		if id, ok := ix.byLocal[u]; ok {
			return id, true
		}
	}
	return gatehouse.Identity{}, false
}
