package jwtx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
)

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var (
	rsaKey      = must(rsa.GenerateKey(rand.Reader, 2048))
	ecKey       = must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	p384        = must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	_, edKey, _ = ed25519.GenerateKey(rand.Reader)
)

func TestParsePrivateKey(t *testing.T) {
	pkcs8RSA := must(x509.MarshalPKCS8PrivateKey(rsaKey))
	pkcs8EC := must(x509.MarshalPKCS8PrivateKey(ecKey))
	sec1 := must(x509.MarshalECPrivateKey(ecKey))
	cert := pemOf("CERTIFICATE", []byte("not really a certificate"))
	tests := []struct {
		name, pem string
		want      crypto.PublicKey // nil: an error containing err
		err       string
	}{
		{"pkcs8 rsa", pemOf("PRIVATE KEY", pkcs8RSA), &rsaKey.PublicKey, ""},
		{"pkcs1 rsa", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), &rsaKey.PublicKey, ""},
		{"pkcs8 ec", pemOf("PRIVATE KEY", pkcs8EC), &ecKey.PublicKey, ""},
		{"sec1 ec", pemOf("EC PRIVATE KEY", sec1), &ecKey.PublicKey, ""},
		{"pkcs8 labelled rsa", pemOf("RSA PRIVATE KEY", pkcs8RSA), &rsaKey.PublicKey, ""},
		{"pkcs1 labelled pkcs8", pemOf("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), &rsaKey.PublicKey, ""},
		{"certificate first", cert + pemOf("PRIVATE KEY", pkcs8RSA), &rsaKey.PublicKey, ""},
		{"surrounding space", "\n  " + pemOf("PRIVATE KEY", pkcs8EC) + "\n\n", &ecKey.PublicKey, ""},
		{"empty", "", nil, "key is not PEM"},
		{"not pem", "nope", nil, "key is not PEM"},
		{"certificate only", cert, nil, `key is not a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY (it holds "CERTIFICATE")`},
		{"garbage der", pemOf("PRIVATE KEY", []byte("garbage")), nil, "key: PEM PRIVATE KEY block: "},
		{"encrypted", pemOf("ENCRYPTED PRIVATE KEY", []byte("x")), nil, `holds "ENCRYPTED PRIVATE KEY"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey("key", tt.pem)
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(tt.want) {
				t.Fatalf("parsed a different key: %T", k)
			}
		})
	}
}

func TestAlg(t *testing.T) {
	tests := []struct {
		name string
		key  crypto.Signer
		want string // "": an error
	}{
		{"rsa", rsaKey, "RS256"},
		{"p256", ecKey, "ES256"},
		{"p384", p384, ""},
		{"ed25519", edKey, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Alg(tt.key)
			if got != tt.want || (err == nil) != (tt.want != "") {
				t.Fatalf("Alg = %q, %v; want %q", got, err, tt.want)
			}
			if tt.want == "" {
				if _, err := Sign(tt.key, nil, map[string]any{}); err == nil {
					t.Fatal("Sign accepted a key Alg refuses")
				}
			}
		})
	}
}

// verify checks tok with the standard library alone, so that a bug in Sign
// cannot hide behind a matching bug in a shared verifier.
func verify(t *testing.T, tok string, pub crypto.PublicKey) (hdr map[string]string, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	dec := base64.RawURLEncoding
	hb, _ := dec.DecodeString(parts[0])
	cb, _ := dec.DecodeString(parts[1])
	sig, err := dec.DecodeString(parts[2])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		t.Fatalf("not a JWS: %q", tok)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if hdr["alg"] != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("RS256 signature does not verify (alg %s)", hdr["alg"])
		}
	case *ecdsa.PublicKey:
		if hdr["alg"] != "ES256" || len(sig) != 64 ||
			!ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatalf("ES256 signature does not verify (alg %s, %d bytes)", hdr["alg"], len(sig))
		}
	}
	return hdr, claims
}

func TestSign(t *testing.T) {
	tests := []struct {
		name  string
		key   crypto.Signer
		extra map[string]string
		want  map[string]string
	}{
		{"rs256", rsaKey, nil, map[string]string{"alg": "RS256", "typ": "JWT"}},
		{"es256 kid", ecKey, map[string]string{"kid": "k1"}, map[string]string{"alg": "ES256", "typ": "JWT", "kid": "k1"}},
		{"extra cannot override alg", rsaKey, map[string]string{"alg": "none", "typ": "x", "x5t#S256": "abc"},
			map[string]string{"alg": "RS256", "typ": "JWT", "x5t#S256": "abc"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Sign(tt.key, tt.extra, map[string]any{"iss": "me", "exp": 42})
			if err != nil {
				t.Fatal(err)
			}
			hdr, claims := verify(t, tok, tt.key.Public())
			if len(hdr) != len(tt.want) {
				t.Errorf("header %v, want %v", hdr, tt.want)
			}
			for k, v := range tt.want {
				if hdr[k] != v {
					t.Errorf("header %s = %q, want %q", k, hdr[k], v)
				}
			}
			if claims["iss"] != "me" || claims["exp"] != float64(42) {
				t.Errorf("claims %v", claims)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	a, err1 := NewID()
	b, err2 := NewID()
	if err1 != nil || err2 != nil || len(a) != 32 || a == b {
		t.Fatalf("NewID = %q, %q (%v, %v)", a, b, err1, err2)
	}
}

// FuzzParsePrivateKey: a key setting is hostile input; the parser must not
// panic, and anything it accepts must be a key Alg can judge.
func FuzzParsePrivateKey(f *testing.F) {
	f.Add(pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(rsaKey))))
	f.Add(pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)))
	f.Add(pemOf("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(ecKey))))
	f.Add(pemOf("CERTIFICATE", []byte{1, 2, 3}) + pemOf("PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00}))
	f.Add("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePrivateKey("key", s)
		if (k == nil) == (err == nil) {
			t.Fatalf("key %T with error %v", k, err)
		}
		if k != nil {
			_, _ = Alg(k)
		}
	})
}
