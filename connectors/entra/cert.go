package entra

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/jwtx"
)

// certCredential signs client assertions (RFC 7523, as the Microsoft
// identity platform wants them) with the app registration's certificate.
type certCredential struct {
	key        *rsa.PrivateKey
	thumbprint string // base64url SHA-256 of the certificate's DER: the x5t#S256 header
}

// parseCertCredential reads a PEM certificate and its PEM RSA private key
// (PKCS#1 or PKCS#8) and checks they belong together.
func parseCertCredential(certPEM, keyPEM string) (*certCredential, error) {
	cb, _ := pem.Decode([]byte(certPEM))
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("client_certificate is not a PEM CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("client_certificate: %w", err)
	}
	k, err := jwtx.ParsePrivateKey("client_key", keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("client_key: only RSA keys are accepted by Entra for client assertions")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("client_key does not belong to client_certificate")
	}
	sum := sha256.Sum256(cert.Raw)
	return &certCredential{key: key, thumbprint: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// assertion returns a signed client assertion for tokenURL, valid 5 minutes.
func (cc *certCredential) assertion(clientID, tokenURL string, now time.Time) (string, error) {
	jti, err := jwtx.NewID()
	if err != nil {
		return "", err
	}
	jwt, err := jwtx.Sign(cc.key, map[string]string{"x5t#S256": cc.thumbprint},
		map[string]any{"aud": tokenURL, "iss": clientID, "sub": clientID, "jti": jti,
			"nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})
	if err != nil {
		return "", fmt.Errorf("sign client assertion: %w", err)
	}
	return jwt, nil
}

// tokenForm is the client-credentials form: with the secret, or with a
// fresh client assertion when a certificate is configured.
func (c *Connector) tokenForm() (url.Values, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {c.s.ClientID}, "scope": {graphScope}}
	if c.cert == nil {
		form.Set("client_secret", c.secret)
		return form, nil
	}
	a, err := c.cert.assertion(c.s.ClientID, c.s.TokenURL, c.now())
	if err != nil {
		return nil, gatehouse.Permanent(err)
	}
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", a)
	return form, nil
}

// certTokens caches the access token obtained with a client assertion.
// httpx's own OAuth2 support sends a client secret only, so with a
// certificate the Graph client authenticates through bearerTransport.
type certTokens struct {
	c     *Connector
	cache httpx.TokenCache[string]
}

func (t *certTokens) get(ctx context.Context) (string, error) {
	return t.cache.Get(t.c.now, func() (string, time.Time, error) {
		tok, ttl, err := t.c.requestToken(ctx)
		if err != nil {
			return "", time.Time{}, err
		}
		return tok, httpx.RenewEarly(t.c.now(), ttl, time.Minute), nil
	})
}

func (t *certTokens) invalidate() { t.cache.Invalidate() }

// bearerTransport sets the Authorization header of every Graph request
// from certTokens, renewing the token once on a 401.
type bearerTransport struct {
	base   http.RoundTripper
	tokens *certTokens
}

// errAuth carries a token failure out of RoundTrip with its class intact.
type errAuth struct{ err error }

func (e *errAuth) Error() string { return e.err.Error() }
func (e *errAuth) Unwrap() error { return e.err }

func (b *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	send := func() (*http.Response, error) {
		tok, err := b.tokens.get(req.Context())
		if err != nil {
			return nil, &errAuth{err}
		}
		r := req.Clone(req.Context())
		if req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		return b.base.RoundTrip(r)
	}
	res, err := send()
	if err != nil || res.StatusCode != http.StatusUnauthorized || (req.Body != nil && req.GetBody == nil) {
		return res, err
	}
	// The cached token may have been revoked or expired early.
	res.Body.Close()
	b.tokens.invalidate()
	return send()
}

// requestToken asks the token endpoint for an access token.
func (c *Connector) requestToken(ctx context.Context) (string, time.Duration, error) {
	form, err := c.tokenForm()
	if err != nil {
		return "", 0, err
	}
	path := c.tokenURL.EscapedPath()
	if c.tokenURL.RawQuery != "" {
		path += "?" + c.tokenURL.RawQuery
	}
	res, err := c.tokenC.Do(ctx, httpx.Request{Method: http.MethodPost, Path: path, Body: []byte(form.Encode()),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if err != nil {
		if s := httpx.StatusOf(err); s == http.StatusBadRequest || s == http.StatusUnauthorized {
			// AADSTS errors for a wrong tenant, client id, secret or certificate.
			return "", 0, gatehouse.Permanent(fmt.Errorf("oauth2 token: %w", err))
		}
		return "", 0, fmt.Errorf("oauth2 token: %w", err)
	}
	m, _ := res.JSON.(map[string]any)
	tok, _ := m["access_token"].(string)
	if tok == "" {
		return "", 0, gatehouse.Permanent(errors.New("oauth2 token: response has no access_token"))
	}
	ttl := time.Hour
	if n, ok := m["expires_in"].(json.Number); ok {
		if secs, err := n.Float64(); err == nil && secs > 0 {
			ttl = time.Duration(secs) * time.Second
		}
	}
	return tok, ttl, nil
}
