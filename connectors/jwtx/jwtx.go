// Package jwtx reads PEM private keys and signs compact JWS tokens (RS256,
// ES256) for the connectors that authenticate with a signed JWT: OAuth
// client assertions (RFC 7523: Okta, Entra), Google's JWT bearer grant and
// GitHub App tokens. Each connector keeps its own claim set and key policy
// (which key types, which sizes); this package holds only what is the same
// for all of them. Stdlib only.
package jwtx

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// keyTypes are the PEM block types that hold a private key, in the order
// ParsePrivateKey tries their encodings when a block's label is wrong.
var keyTypes = []string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"}

// ParsePrivateKey reads the first private key in pemText: PKCS#8 ("PRIVATE
// KEY"), PKCS#1 ("RSA PRIVATE KEY") or SEC 1 ("EC PRIVATE KEY"). Blocks of
// other types before it (a certificate bundled with its key) are skipped.
// A key whose label does not match its encoding (a PKCS#8 key labelled RSA,
// as some secret stores convert them) is still read. The result is an
// *rsa.PrivateKey or an *ecdsa.PrivateKey (PKCS#8 may also carry Ed25519,
// which Sign refuses); callers enforce their vendor's policy on it.
//
// name is the setting the key came from; errors start with it and never
// quote the key.
func ParsePrivateKey(name, pemText string) (crypto.Signer, error) {
	rest := []byte(strings.TrimSpace(pemText))
	var seen []string
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if !isKeyType(block.Type) {
			seen = append(seen, fmt.Sprintf("%.40q", block.Type)) // at most 40 runes of a hostile label
			continue
		}
		key, err := parseDER(block)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM %s block: %w", name, block.Type, err)
		}
		return key, nil
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%s is not PEM (want -----BEGIN PRIVATE KEY-----)", name)
	}
	return nil, fmt.Errorf("%s is not a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY (it holds %s)", name, strings.Join(seen, ", "))
}

func isKeyType(t string) bool {
	for _, k := range keyTypes {
		if t == k {
			return true
		}
	}
	return false
}

// parseDER decodes block as its label says, then as the other encodings.
func parseDER(block *pem.Block) (crypto.Signer, error) {
	order := []string{block.Type}
	for _, t := range keyTypes {
		if t != block.Type {
			order = append(order, t)
		}
	}
	var first error
	for _, t := range order {
		var key any
		var err error
		switch t {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		}
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if s, ok := key.(crypto.Signer); ok {
			return s, nil
		}
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
	// The error of the encoding the label names is the one that helps.
	return nil, first
}

// Alg is the JWS algorithm Sign uses with key: RS256 for RSA, ES256 for
// ECDSA on P-256. Other keys are an error.
func Alg(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return "RS256", nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return "ES256", nil
		}
		return "", errors.New("EC key must be on P-256 (ES256)")
	}
	return "", fmt.Errorf("unsupported key type %T (want RSA or EC P-256)", key)
}

var b64 = base64.RawURLEncoding

// Sign returns the compact JWS of claims signed with key. The header has
// alg (from Alg) and typ JWT, plus the fields of extra (kid, x5t#S256…).
// claims is marshalled with encoding/json.
func Sign(key crypto.Signer, extra map[string]string, claims any) (string, error) {
	alg, err := Alg(key)
	if err != nil {
		return "", err
	}
	hdr := map[string]string{"alg": alg, "typ": "JWT"}
	for k, v := range extra {
		if k != "alg" && k != "typ" {
			hdr[k] = v
		}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		r, s, serr := ecdsa.Sign(rand.Reader, k, digest[:])
		if err = serr; err == nil {
			// JWS wants the fixed-size R||S form, not ASN.1 (RFC 7518 section 3.4).
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	}
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// NewID returns a random 128-bit hex string for a jti claim, which token
// endpoints use to refuse a replayed assertion.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
