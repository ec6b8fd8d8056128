package okta

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/jwtx"
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
	key, err := jwtx.ParsePrivateKey("private_key", pemText)
	if err != nil {
		return nil, err
	}
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < 2048 {
		return nil, fmt.Errorf("private_key: RSA key of %d bits; Okta requires at least 2048", k.N.BitLen())
	}
	alg, err := jwtx.Alg(key)
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	return &signer{key: key, alg: alg, kid: kid}, nil
}

// assertion builds the signed JWT for clientID at audience (the token URL).
func (s *signer) assertion(clientID, audience string, now time.Time) (string, error) {
	var hdr map[string]string
	if s.kid != "" {
		hdr = map[string]string{"kid": s.kid}
	}
	jti, err := jwtx.NewID()
	if err != nil {
		return "", err
	}
	claims := map[string]any{
		"iss": clientID, "sub": clientID, "aud": audience,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), // Okta allows at most an hour
		"jti": jti,
	}
	jwt, err := jwtx.Sign(s.key, hdr, claims)
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return jwt, nil
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
	cache    httpx.TokenCache[grantedToken]
}

// grantedToken is an access token and the scopes Okta granted with it.
type grantedToken struct {
	tok     string
	granted []string
}

func (t *tokenSource) invalidate() { t.cache.Invalidate() }

// token returns the cached token while it is valid, else fetches one.
func (t *tokenSource) token(ctx context.Context) (string, []string, error) {
	g, err := t.cache.Get(t.now, func() (grantedToken, time.Time, error) { return t.fetch(ctx) })
	return g.tok, g.granted, err
}

// fetch gets a token with a fresh client assertion and says when to renew it.
func (t *tokenSource) fetch(ctx context.Context) (grantedToken, time.Time, error) {
	var none grantedToken
	jwt, err := t.signer.assertion(t.clientID, t.tokenURL, t.now())
	if err != nil {
		return none, time.Time{}, gatehouse.Permanent(err)
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
			return none, time.Time{}, gatehouse.Permanent(fmt.Errorf("okta oauth token: %w", oauthError(res, err)))
		}
		return none, time.Time{}, fmt.Errorf("okta oauth token: %w", err)
	}
	var body struct {
		AccessToken string      `json:"access_token"`
		TokenType   string      `json:"token_type"`
		ExpiresIn   json.Number `json:"expires_in"`
		Scope       string      `json:"scope"`
	}
	if err := decodeJSON(res.Body, &body); err != nil || body.AccessToken == "" {
		return none, time.Time{}, gatehouse.Retryable(errors.New("okta oauth token: response without access_token"))
	}
	ttl := time.Hour
	if secs, err := body.ExpiresIn.Int64(); err == nil && secs > 0 {
		ttl = time.Duration(secs) * time.Second
	}
	return grantedToken{tok: body.AccessToken, granted: strings.Fields(body.Scope)}, httpx.RenewEarly(t.now(), ttl, 30*time.Second), nil
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
