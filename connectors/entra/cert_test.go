package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/gatehousehq/gatehouse/connectors/entra/entratest"
	"github.com/rs/zerolog"
)

// selfSigned makes a certificate and key as an admin uploading a
// certificate to the app registration would, written as PEM files.
func selfSigned(t *testing.T, pkcs8 bool) (*x509.Certificate, string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kb := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if pkcs8 {
		b, _ := x509.MarshalPKCS8PrivateKey(key)
		kb = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(kb), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, certFile, keyFile
}

func certConn(t *testing.T, srv *entratest.Server, certFile, keyFile string) *Connector {
	t.Helper()
	y := strings.Replace(srv.Settings(""), "client_secret: "+entratest.ClientSecret+"\n",
		"client_certificate_file: "+certFile+"\nclient_key_file: "+keyFile+"\n", 1)
	s, err := config.NewSettings(y)
	if err != nil {
		t.Fatal(err)
	}
	app := &config.App{Name: "m365", Settings: s, Entitlements: map[string]*config.Entitlement{"engineering": {Kind: gatehouse.EntGroup, Resource: "Engineering"}}}
	c, err := New(app, connectors.Deps{Logger: zerolog.Nop(), Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Connector)
}

func TestCertificateCredential(t *testing.T) {
	for _, pkcs8 := range []bool{false, true} {
		srv := entratest.New(t)
		srv.AddGroup("Engineering")
		cert, certFile, keyFile := selfSigned(t, pkcs8)
		srv.SetCertificate(cert)
		c := certConn(t, srv, certFile, keyFile)
		if err := c.Check(ctx(t)); err != nil {
			t.Fatalf("pkcs8=%v: check: %v", pkcs8, err)
		}
		a, err := c.EnsureAccount(ctx(t), ref("cert"))
		if err != nil {
			t.Fatal(err)
		}
		r := ref("cert")
		r.AccountID = a.ID
		if err := c.Grant(ctx(t), r, entEng); err != nil {
			t.Fatal(err)
		}
		if got := srv.GroupsOf(a.ID); len(got) != 1 {
			t.Errorf("groups %v", got)
		}
		// One token for the Graph calls (cached), one for Check.
		tokens := 0
		for _, rq := range srv.Requests() {
			if strings.HasSuffix(rq.Path, "/token") {
				tokens++
				if strings.Contains(rq.Body, "client_secret") {
					t.Error("certificate flow sent a client_secret")
				}
			}
		}
		if tokens != 2 {
			t.Errorf("%d token requests, want 2", tokens)
		}
		// A token Graph stops accepting is renewed once, transparently.
		srv.SetRoles(entratest.AllRoles...) // forgets issued tokens
		if err := c.Disable(ctx(t), r); err != nil {
			t.Fatalf("after token loss: %v", err)
		}
	}
	// The certificate Entra knows is another one: permanent, and no key leaks.
	srv := entratest.New(t)
	other, _, _ := selfSigned(t, false)
	srv.SetCertificate(other)
	_, certFile, keyFile := selfSigned(t, false)
	c := certConn(t, srv, certFile, keyFile)
	err := c.Disable(ctx(t), ref("x"))
	if gatehouse.Classify(err) != gatehouse.ClassPermanent || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Errorf("unregistered certificate: %v (class %s)", err, gatehouse.Classify(err))
	}
}

func TestCertificateSettings(t *testing.T) {
	_, certFile, keyFile := selfSigned(t, false)
	_, _, otherKey := selfSigned(t, false)
	base := "tenant_id: t\nclient_id: x\n"
	for _, tc := range []struct{ yaml, want string }{
		{base + "client_secret: s\nclient_certificate_file: " + certFile + "\nclient_key_file: " + keyFile + "\n", "not both"},
		{base + "client_certificate_file: " + certFile + "\n", "client_certificate needs client_key"},
		{base + "client_key_file: " + keyFile + "\n", "client_key needs client_certificate"},
		{base + "client_certificate_file: " + certFile + "\nclient_key_file: " + otherKey + "\n", "does not belong"},
		{base + "client_certificate_file: " + keyFile + "\nclient_key_file: " + keyFile + "\n", "not a PEM CERTIFICATE"},
		{base + "client_certificate_file: " + certFile + "\nclient_key_file: " + certFile + "\n", "not a PEM PRIVATE KEY"},
	} {
		s, err := config.NewSettings(tc.yaml)
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(&config.App{Name: "m365", Settings: s}, connectors.Deps{Logger: zerolog.Nop()})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
}
