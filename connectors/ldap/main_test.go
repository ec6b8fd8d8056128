package ldap

import (
	"os"
	"sync"
	"testing"

	"github.com/gatehousehq/gatehouse/connectors/ldap/ldaptest"
)

// One slapd serves every test of the package; each test uses its own
// accounts, so they do not interfere.
const (
	testBase   = ldaptest.Base
	testAdmin  = ldaptest.AdminDN
	testPass   = ldaptest.AdminPassword
	testReader = ldaptest.ReaderDN
	readerPass = ldaptest.ReaderPassword
)

type slapdServer = ldaptest.Server

var (
	slapdOnce sync.Once
	slapd     *slapdServer
	slapdErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if slapd != nil {
		slapd.Stop()
	}
	os.Exit(code)
}

func needSlapd(t *testing.T) *slapdServer {
	t.Helper()
	ldaptest.SkipIfUnavailable(t)
	slapdOnce.Do(func() { slapd, slapdErr = ldaptest.Start() })
	if slapdErr != nil {
		t.Fatalf("start slapd: %v", slapdErr)
	}
	return slapd
}
