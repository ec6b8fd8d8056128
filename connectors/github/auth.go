package github

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/jwtx"
)

// ParsePrivateKey reads a GitHub App private key: GitHub hands out PKCS#1
// ("RSA PRIVATE KEY") PEM files; PKCS#8 is accepted too, since converted
// keys from a secret store often come that way.
func ParsePrivateKey(pemText []byte) (*rsa.PrivateKey, error) {
	k, err := jwtx.ParsePrivateKey("private key", string(pemText))
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("private key is not an RSA key (GitHub Apps sign with RS256)")
	}
	return rk, nil
}

// AppJWT signs the RS256 JSON Web Token a GitHub App authenticates with. iat
// is backdated 60 s against clock drift and exp is 9 minutes ahead, inside
// GitHub's 10-minute limit.
func AppJWT(key *rsa.PrivateKey, issuer string, now time.Time) (string, error) {
	jwt, err := jwtx.Sign(key, nil, map[string]any{
		"iat": now.Add(-60 * time.Second).Unix(),
		"exp": now.Add(9 * time.Minute).Unix(),
		"iss": issuer,
	})
	if err != nil {
		return "", fmt.Errorf("sign app jwt: %w", err)
	}
	return jwt, nil
}

// tokenRenewMargin is how long before expires_at an installation token is
// replaced, so that a token never expires during a request or a listing.
const tokenRenewMargin = 5 * time.Minute

// appTokens exchanges the app's JWT for installation access tokens and caches
// them. The token response also lists the installation's permissions, which
// Check reads.
type appTokens struct {
	cl     *httpx.Client
	key    *rsa.PrivateKey
	appID  string
	instID int64
	now    func() time.Time
	cache  httpx.TokenCache[installationToken]
}

// installationToken is a token and the installation's permissions.
type installationToken struct {
	tok   string
	perms map[string]string
}

// token returns a valid installation token.
func (a *appTokens) token(ctx context.Context) (string, error) {
	it, err := a.get(ctx)
	return it.tok, err
}

func (a *appTokens) get(ctx context.Context) (installationToken, error) {
	return a.cache.Get(a.now, func() (installationToken, time.Time, error) { return a.exchange(ctx) })
}

// exchange trades the app JWT for an installation token, replaced
// tokenRenewMargin before GitHub's expires_at.
func (a *appTokens) exchange(ctx context.Context) (installationToken, time.Time, error) {
	var none installationToken
	jwt, err := AppJWT(a.key, a.appID, a.now())
	if err != nil {
		return none, time.Time{}, gatehouse.Permanent(err)
	}
	res, err := a.cl.Do(ctx, httpx.Request{Method: http.MethodPost,
		Path:   "/app/installations/" + strconv.FormatInt(a.instID, 10) + "/access_tokens",
		Header: map[string]string{"Authorization": "Bearer " + jwt, "Accept": mediaType, "X-GitHub-Api-Version": apiVersion}})
	if err != nil {
		err = classify(res, err, a.now())
		if s := httpx.StatusOf(err); s == http.StatusUnauthorized || s == http.StatusNotFound {
			// A wrong app id, key or installation id does not heal by itself.
			err = gatehouse.Permanent(err)
		}
		return none, time.Time{}, fmt.Errorf("github app installation token: %w", err)
	}
	var body struct {
		Token       string            `json:"token"`
		ExpiresAt   time.Time         `json:"expires_at"`
		Permissions map[string]string `json:"permissions"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil || body.Token == "" {
		return none, time.Time{}, gatehouse.Retryable(errors.New("github app installation token: response has no token"))
	}
	if body.ExpiresAt.IsZero() {
		body.ExpiresAt = a.now().Add(time.Hour) // GitHub's documented lifetime
	}
	return installationToken{tok: body.Token, perms: body.Permissions}, body.ExpiresAt.Add(-tokenRenewMargin), nil
}

func (a *appTokens) permissions(ctx context.Context) (map[string]string, error) {
	it, err := a.get(ctx)
	if err != nil {
		return nil, err
	}
	return it.perms, nil
}
