package connectors

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehousehq/gatehouse"
)

// Checker is implemented by connectors that can test connectivity and
// permissions more cheaply than listing every account (an LDAP bind and
// a one-entry search, a SCIM /ServiceProviderConfig request…). A nil
// error means the app is reachable with the configured credentials and
// Gatehouse may read what it needs; the error is classified like any
// connector error.
type Checker interface {
	Check(ctx context.Context) error
}

// ErrNoProbe says a connector offers no way to test it: it neither
// implements Checker nor lists accounts.
var ErrNoProbe = errors.New("connector offers no connectivity check (no Check, no list_accounts)")

// Probe tests c the cheapest way it offers: Check when implemented, else
// ListAccounts. It returns what it did ("check" or "list_accounts: N
// accounts") and the error, or ErrNoProbe when there is nothing to try.
func Probe(ctx context.Context, c gatehouse.Connector) (string, error) {
	if ch, ok := c.(Checker); ok {
		return "check", ch.Check(ctx)
	}
	if c.Capabilities().Has(gatehouse.CapListAccounts) {
		accts, err := c.ListAccounts(ctx)
		if err != nil {
			return "list_accounts", err
		}
		return fmt.Sprintf("list_accounts: %d accounts", len(accts)), nil
	}
	return "", ErrNoProbe
}
