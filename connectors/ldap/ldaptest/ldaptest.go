// Package ldaptest runs a real, unprivileged OpenLDAP slapd for tests: a
// temp dir with its own cn=config (back_mdb, memberof, refint with
// olcRefintNothing, ppolicy with a default policy so pwdAccountLockedTime
// locks accounts, lastbind so binds set authTimestamp; core, cosine, nis
// and inetorgperson schemas from /etc/ldap/schema), a self-signed
// certificate for StartTLS and an ldaps:// listener, seed entries
// (see BaseLDIF), a free loopback port, and a kill by pid when done.
//
// Need skips the test when slapd is not installed, unless the CI
// environment variable is set: then it fails, so CI cannot silently skip
// directory tests (.ci/install-deps.sh installs slapd).
package ldaptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// The directory every server starts with.
const (
	Base           = "dc=example,dc=com"
	AdminDN        = "cn=admin,dc=example,dc=com" // the rootDN: may do anything
	AdminPassword  = "admin-secret"
	ReaderDN       = "cn=reader,dc=example,dc=com" // may read everything, write nothing
	ReaderPassword = "reader-secret"
	Placeholder    = "cn=nobody,dc=example,dc=com" // initial member of the seeded groupOfNames
)

// Server is a running slapd.
type Server struct {
	URL      string // ldap://127.0.0.1:PORT (StartTLS available)
	LDAPSURL string // ldaps://127.0.0.1:PORT2
	CAFile   string // PEM certificate of the server (self-signed, for 127.0.0.1)
	dir      string
	token    string // in the base entry's description: proves a server is ours
	cmd      *exec.Cmd
	exited   chan struct{}
}

// Available reports whether slapd is installed.
func Available() bool {
	if _, err := exec.LookPath("slapd"); err == nil {
		return true
	}
	_, err := os.Stat("/usr/sbin/slapd")
	return err == nil
}

// Need starts a server for t and stops it when t ends, skipping (or, with
// CI set, failing) when slapd is not installed.
func Need(t testing.TB) *Server {
	t.Helper()
	SkipIfUnavailable(t)
	s, err := Start()
	if err != nil {
		t.Fatalf("start slapd: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// SkipIfUnavailable skips t when slapd is missing, or fails it when the CI
// environment variable is set.
func SkipIfUnavailable(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("slapd is not installed and CI is set: run .ci/install-deps.sh")
	}
	t.Skip("slapd is not installed (apt-get install slapd ldap-utils, or run .ci/install-deps.sh); skipping LDAP tests")
}

func slapdBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return "/usr/sbin/" + name
}

// Start starts a server; the caller must Stop it.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "gatehouse-slapd-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	for _, d := range []string{"cfg", "db"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := writeSelfSigned(certFile, keyFile); err != nil {
		return nil, err
	}
	s.CAFile = certFile
	if err := os.WriteFile(filepath.Join(dir, "config.ldif"), []byte(configLDIF(dir, certFile, keyFile)), 0o600); err != nil {
		return nil, err
	}
	s.token = filepath.Base(dir)
	base := strings.Replace(BaseLDIF, "o: Example\n", "o: Example\ndescription: "+s.token+"\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "base.ldif"), []byte(base), 0o600); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "cfg")
	for _, args := range [][]string{
		{"-n0", "-F", cfg, "-l", filepath.Join(dir, "config.ldif")},
		{"-n1", "-F", cfg, "-l", filepath.Join(dir, "base.ldif")},
	} {
		if out, err := exec.Command(slapdBin("slapadd"), args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("slapadd %v: %v\n%s", args, err, out)
		}
	}
	// A free port can be taken between choosing it and slapd binding it,
	// even by another test's slapd: try fresh ports a few times, and make
	// sure the server that answers is ours (it carries s.token).
	var lastErr error
	for range 3 {
		if lastErr = s.launch(cfg); lastErr == nil {
			ok = true
			return s, nil
		}
		s.exited = make(chan struct{})
	}
	return nil, lastErr
}

func (s *Server) launch(cfg string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	port2, err := freePort()
	if err != nil {
		return err
	}
	s.URL = fmt.Sprintf("ldap://127.0.0.1:%d", port)
	s.LDAPSURL = fmt.Sprintf("ldaps://127.0.0.1:%d", port2)
	logf, err := os.Create(filepath.Join(s.dir, "slapd.log"))
	if err != nil {
		return err
	}
	// -d keeps slapd in the foreground so its pid is ours to kill.
	s.cmd = exec.Command(slapdBin("slapd"), "-F", cfg, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "0")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start slapd: %w", err)
	}
	exited := s.exited
	go func() { s.cmd.Wait(); logf.Close(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "slapd.log"))
			return fmt.Errorf("slapd exited early:\n%s", log)
		default:
		}
		if s.answers() {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("slapd did not answer on %s within 15s", s.URL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answers reports whether our slapd (not another on a reused port) serves
// s.URL: the base entry carries this server's token.
func (s *Server) answers() bool {
	l, err := goldap.DialURL(s.URL)
	if err != nil {
		return false
	}
	defer l.Close()
	if err := l.Bind(AdminDN, AdminPassword); err != nil {
		return false
	}
	res, err := l.Search(goldap.NewSearchRequest(Base, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 1, 0, false, "(objectClass=*)", []string{"description"}, nil))
	return err == nil && len(res.Entries) == 1 && res.Entries[0].GetAttributeValue("description") == s.token
}

// Stop kills slapd (by its pid) and removes its files.
func (s *Server) Stop() {
	s.kill()
	os.RemoveAll(s.dir)
}

func (s *Server) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeSelfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

func configLDIF(dir, cert, key string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: %[1]s/slapd.pid
olcTLSCertificateFile: %[2]s
olcTLSCertificateKeyFile: %[3]s

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint
olcModuleLoad: ppolicy
olcModuleLoad: lastbind

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

`, dir, cert, key)
	for _, s := range []string{"core", "cosine", "nis", "inetorgperson"} {
		fmt.Fprintf(&b, "include: file:///etc/ldap/schema/%s.ldif\n\n", s)
	}
	fmt.Fprintf(&b, `dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 5000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: %[1]s/db
olcSuffix: %[2]s
olcRootDN: %[3]s
olcRootPW: %[4]s
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,cn eq
olcDbIndex: member,memberUid eq
olcDbIndex: entryUUID eq
olcAccess: {0}to attrs=userPassword by anonymous auth by * none
olcAccess: {1}to * by dn.exact="%[5]s" read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
olcRefintNothing: cn=nobody,%[2]s

dn: olcOverlay={2}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {2}ppolicy
olcPPolicyDefault: cn=default,ou=policies,%[2]s

dn: olcOverlay={3}lastbind,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcLastBindConfig
olcOverlay: {3}lastbind
`, dir, Base, AdminDN, AdminPassword, ReaderDN)
	return b.String()
}

// BaseLDIF seeds the directory: ou=people (empty), ou=disabled, ou=groups
// with groupOfNames engineering, oncall and lonely (each holding only the
// Placeholder), ou=posix with posixGroups devs and admins, and
// uid=ghost,ou=legacy: an account Gatehouse never created.
const BaseLDIF = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: cn=reader,dc=example,dc=com
objectClass: person
cn: reader
sn: reader
userPassword: ` + ReaderPassword + `

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=disabled,dc=example,dc=com
objectClass: organizationalUnit
ou: disabled

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: cn=engineering,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: engineering
member: cn=nobody,dc=example,dc=com

dn: cn=oncall,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: oncall
member: cn=nobody,dc=example,dc=com

dn: cn=lonely,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: lonely
member: cn=nobody,dc=example,dc=com

dn: ou=posix,dc=example,dc=com
objectClass: organizationalUnit
ou: posix

dn: cn=devs,ou=posix,dc=example,dc=com
objectClass: posixGroup
cn: devs
gidNumber: 5000

dn: cn=admins,ou=posix,dc=example,dc=com
objectClass: posixGroup
cn: admins
gidNumber: 5001

dn: ou=policies,dc=example,dc=com
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,dc=example,dc=com
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: ou=legacy,dc=example,dc=com
objectClass: organizationalUnit
ou: legacy

dn: uid=ghost,ou=legacy,dc=example,dc=com
objectClass: inetOrgPerson
uid: ghost
cn: Ghost User
sn: User
mail: ghost@example.com
`
