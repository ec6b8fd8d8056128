package conntest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/conntest"
	"github.com/gatehousehq/gatehouse/connectors/simulated"
)

// limited is a simulated app that declares only some capabilities and
// refuses the rest the way a real connector must, to exercise the suite's
// skip and unsupported paths.
type limited struct {
	*simulated.Connector
	caps gatehouse.Capabilities
}

func (l limited) Capabilities() gatehouse.Capabilities { return l.caps }

func (l limited) unsupported(c gatehouse.Capability) error {
	return gatehouse.Permanent(fmt.Errorf("limited %s: %w", c, gatehouse.ErrUnsupported))
}

func (l limited) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	return l.unsupported(gatehouse.CapDelete)
}

func (l limited) RevokeSessions(ctx context.Context, ref gatehouse.AccountRef) error {
	return l.unsupported(gatehouse.CapRevokeSessions)
}

func (l limited) ListAccounts(ctx context.Context) ([]gatehouse.Account, error) {
	return nil, l.unsupported(gatehouse.CapListAccounts)
}

func (l limited) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	return l.unsupported(gatehouse.CapTransferOwnership)
}

func TestLimitedConnector(t *testing.T) {
	caps := gatehouse.NewCapabilities(gatehouse.CapEnsureAccount, gatehouse.CapGrant, gatehouse.CapRevoke, gatehouse.CapDisable, gatehouse.CapEnable)
	if got := conntest.Missing(caps); len(got) != 4 {
		t.Fatalf("Missing = %v", got)
	}
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			return limited{Connector: simulated.New("limited", simulated.Options{}), caps: caps}
		},
		Entitlements: []gatehouse.Entitlement{{App: "limited", Name: "eng", Kind: gatehouse.EntGroup}},
	})
}
