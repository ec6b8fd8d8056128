package conntest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
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

// broken connectors each violate one rule of the contract; the suite must
// fail on every one of them (checked in a child process, since a failing
// suite fails its test).
type broken struct {
	*simulated.Connector
	variant string
	n       atomic.Int64
}

func (b *broken) Capabilities() gatehouse.Capabilities {
	caps := b.Connector.Capabilities()
	if b.variant == "unsupported-plain" {
		delete(caps, gatehouse.CapDelete)
	}
	return caps
}

func (b *broken) EnsureAccount(ctx context.Context, ref gatehouse.AccountRef) (gatehouse.Account, error) {
	switch b.variant {
	case "dup-ensure":
		ref = gatehouse.AccountRef{UserName: fmt.Sprintf("%s#%d", ref.UserName, b.n.Add(1))}
	case "ignores-cancel":
		ctx = context.Background()
	}
	return b.Connector.EnsureAccount(ctx, ref)
}

func (b *broken) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	if _, ok := b.Find(ref); !ok && b.variant == "revoke-missing-fails" {
		return gatehouse.Permanent(fmt.Errorf("no such user"))
	}
	return b.Connector.Revoke(ctx, ref, ent)
}

func (b *broken) Delete(ctx context.Context, ref gatehouse.AccountRef) error {
	if b.variant == "unsupported-plain" {
		return fmt.Errorf("nope")
	}
	return b.Connector.Delete(ctx, ref)
}

func TestBrokenHelper(t *testing.T) {
	v := os.Getenv("CONNTEST_BROKEN")
	if v == "" {
		t.Skip("run by TestSuiteCatchesBrokenConnectors")
	}
	conntest.Run(t, conntest.Harness{
		New: func(t *testing.T) gatehouse.Connector {
			return &broken{Connector: simulated.New("broken", simulated.Options{}), variant: v}
		},
		Entitlements: []gatehouse.Entitlement{{App: "broken", Name: "eng", Kind: gatehouse.EntGroup}},
		Inspect: func(t *testing.T, c gatehouse.Connector, ref gatehouse.AccountRef) (bool, bool, []string) {
			a, ok := c.(*broken).Find(ref)
			return ok, a.Active, a.Entitlements
		},
	})
}

func TestSuiteCatchesBrokenConnectors(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	tests := []struct{ variant, want string }{
		{"dup-ensure", "a second account was created"},
		{"revoke-missing-fails", "Revoke on a missing account: want success or not-found"},
		{"unsupported-plain", "must return an error wrapping gatehouse.ErrUnsupported"},
		{"ignores-cancel", "on a cancelled context succeeded"},
	}
	for _, tc := range tests {
		t.Run(tc.variant, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenHelper$", "-test.v")
			cmd.Env = append(os.Environ(), "CONNTEST_BROKEN="+tc.variant)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a connector that breaks the contract (%s):\n%s", tc.variant, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Fatalf("the suite failed, but not with %q:\n%s", tc.want, out)
			}
		})
	}
}
