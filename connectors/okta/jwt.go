package okta

import (
	"context"
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
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
)

// signer makes the client_assertion of Okta's private-key JWT client
// authentication (RFC 7523): a short-lived JWT, signed with the service
// app's private key, whose public half is registered on the app in Okta.
type signer struct {
	key crypto.Signer
	alg string // RS256 or ES256
	kid string
}

// parsePrivateKey reads a PEM private key: PKCS#8 (BEGIN PRIVATE KEY, what
// Okta's admin console generates), PKCS#1 (BEGIN RSA PRIVATE KEY) or SEC 1
// (BEGIN EC PRIVATE KEY). RSA keys sign RS256, P-256 keys ES256.
func parsePrivateKey(pemText, kid string) (*signer, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(pemText)))
	if block == nil {
		return nil, errors.New("private_key is not PEM (want -----BEGIN PRIVATE KEY-----)")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("private_key is a PEM %q block, want a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("private_key: RSA key of %d bits; Okta requires at least 2048", k.N.BitLen())
		}
		return &signer{key: k, alg: "RS256", kid: kid}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("private_key: EC key must be on P-256 (ES256)")
		}
		return &signer{key: k, alg: "ES256", kid: kid}, nil
	}
	return nil, fmt.Errorf("private_key: unsupported key type %T (want RSA or EC P-256)", key)
}

var b64 = base64.RawURLEncoding

// assertion builds the signed JWT for clientID at audience (the token URL).
func (s *signer) assertion(clientID, audience string, now time.Time) (string, error) {
	hdr := map[string]string{"alg": s.alg, "typ": "JWT"}
	if s.kid != "" {
		hdr["kid"] = s.kid
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss": clientID, "sub": clientID, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), // Okta allows at most an hour
		"jti": hex.EncodeToString(jti[:]),
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
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		var r, ss *big.Int
		r, ss, err = ecdsa.Sign(rand.Reader, k, digest[:])
		if err == nil {
			// JWS wants the fixed-size R||S form, not ASN.1 (RFC 7518 section 3.4).
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			ss.FillBytes(sig[32:])
		}
	}
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// tokenSource gets and caches an OAuth 2.0 access token for the service app
// with the client_credentials grant and a private-key JWT.
type tokenSource struct {
	hc       *httpx.Client // no credentials of its own and never recording
	tokenURL string
	clientID string
	scopes   []string
	signer   *signer
	now      func() time.Time

	mu      sync.Mutex
	tok     string
	granted []string
	expires time.Time
}

func (t *tokenSource) invalidate() {
	t.mu.Lock()
	t.tok = ""
	t.mu.Unlock()
}

// token returns the cached token while it is valid, else fetches one.
// Holding the lock while fetching makes concurrent callers share a request.
func (t *tokenSource) token(ctx context.Context) (string, []string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != "" && t.now().Before(t.expires) {
		return t.tok, t.granted, nil
	}
	jwt, err := t.signer.assertion(t.clientID, t.tokenURL, t.now())
	if err != nil {
		return "", nil, gatehouse.Permanent(err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"scope":                 {strings.Join(t.scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {jwt},
	}
	res, err := t.hc.Do(ctx, httpx.Request{Method: http.MethodPost, Path: t.tokenURL, Body: []byte(form.Encode()),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if err != nil {
		if s := httpx.StatusOf(err); s == http.StatusBadRequest || s == http.StatusUnauthorized {
			// invalid_client, invalid_scope, a key Okta does not know: no
			// retry will fix the configuration.
			return "", nil, gatehouse.Permanent(fmt.Errorf("okta oauth token: %w", oauthError(res, err)))
		}
		return "", nil, fmt.Errorf("okta oauth token: %w", err)
	}
	var body struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
		Scope       string      `json:"scope"`
	}
	if err := decodeJSON(res.Body, &body); err != nil || body.AccessToken == "" {
		return "", nil, gatehouse.Retryable(errors.New("okta oauth token: response without access_token"))
	}
	ttl := time.Hour
	if secs, err := body.ExpiresIn.Int64(); err == nil && secs > 0 {
		ttl = time.Duration(secs) * time.Second
	}
	// Renew a little early so a token does not expire in flight.
	t.tok, t.expires = body.AccessToken, t.now().Add(ttl-min(30*time.Second, ttl/10))
	t.granted = strings.Fields(body.Scope)
	return t.tok, t.granted, nil
}

// oauthError adds the RFC 6749 error and description to err.
func oauthError(res *httpx.Response, err error) error {
	if res == nil {
		return err
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if decodeJSON(res.Body, &e) != nil || e.Error == "" {
		return err
	}
	return fmt.Errorf("%s: %s: %w", clip(e.Error, 64), clip(e.Description, 300), err)
}
