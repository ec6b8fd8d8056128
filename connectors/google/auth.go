package google

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/connectors/httpx"
	"github.com/gatehousehq/gatehouse/connectors/jwtx"
)

// The OAuth scopes the connector asks for. Each must be granted to the
// service account's client id under domain-wide delegation.
const (
	ScopeUser         = "https://www.googleapis.com/auth/admin.directory.user"
	ScopeGroupMember  = "https://www.googleapis.com/auth/admin.directory.group.member"
	ScopeGroupRead    = "https://www.googleapis.com/auth/admin.directory.group.readonly"
	ScopeUserSecurity = "https://www.googleapis.com/auth/admin.directory.user.security"
	ScopeDataTransfer = "https://www.googleapis.com/auth/admin.datatransfer"
)

// Scopes lists every scope the connector uses, in the order Check tests them.
// admin.directory.group.readonly is there because groups.list?userKey= (how
// ReadAccount sees a user's groups) is not covered by group.member.
var Scopes = []string{ScopeUser, ScopeGroupMember, ScopeGroupRead, ScopeUserSecurity, ScopeDataTransfer}

// serviceAccount is the part of a service-account JSON key the connector uses.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	ClientID     string `json:"client_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
	key          *rsa.PrivateKey
}

// parseServiceAccount validates a key file. Errors never quote the key.
func parseServiceAccount(data []byte) (*serviceAccount, error) {
	var sa serviceAccount
	if err := json.Unmarshal(data, &sa); err != nil {
		// The JSON error may quote the input; say only where it broke.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("service account key is not valid JSON (at byte %d)", se.Offset)
		}
		return nil, errors.New("service account key is not a JSON object of the expected shape")
	}
	switch {
	case sa.Type != "service_account":
		return nil, fmt.Errorf("key type is %q, want service_account (download a JSON key of the service account)", httpx.Clip(sa.Type, 40))
	case sa.ClientEmail == "":
		return nil, errors.New("service account key has no client_email")
	case sa.PrivateKey == "":
		return nil, errors.New("service account key has no private_key")
	}
	k, err := jwtx.ParsePrivateKey("service account private_key", sa.PrivateKey)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		// Google signs service-account assertions with RS256 only.
		return nil, errors.New("service account private_key is not an RSA key")
	}
	sa.key = rk
	return &sa, nil
}

// tokenSource gets access tokens with the JWT bearer grant (RFC 7523) and
// caches them per scope set until shortly before they expire.
type tokenSource struct {
	sa       *serviceAccount
	subject  string
	tokenURL string
	http     *httpx.Client
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cachedToken
}

type cachedToken struct {
	value string
	exp   time.Time
}

// assertion builds and signs the JWT for scopes.
func (ts *tokenSource) assertion(scopes []string) (string, error) {
	now := ts.now()
	jwt, err := jwtx.Sign(ts.sa.key, map[string]string{"kid": ts.sa.PrivateKeyID}, map[string]any{
		"iss": ts.sa.ClientEmail, "sub": ts.subject, "scope": strings.Join(scopes, " "),
		"aud": ts.tokenURL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("sign token assertion: %w", err)
	}
	return jwt, nil
}

// token returns a cached or fresh access token for scopes.
func (ts *tokenSource) token(ctx context.Context, scopes []string) (string, error) {
	key := strings.Join(scopes, " ")
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t, ok := ts.cache[key]; ok && ts.now().Before(t.exp) {
		return t.value, nil
	}
	tok, ttl, err := ts.fetch(ctx, scopes)
	if err != nil {
		return "", err
	}
	// Renew a minute early so a token never expires in flight.
	ts.cache[key] = cachedToken{value: tok, exp: ts.now().Add(max(ttl-time.Minute, ttl/2))}
	return tok, nil
}

func (ts *tokenSource) invalidate(scopes []string) {
	ts.mu.Lock()
	delete(ts.cache, strings.Join(scopes, " "))
	ts.mu.Unlock()
}

// tokenError is an OAuth error answer of the token endpoint.
type tokenError struct {
	Status      int
	Code        string // unauthorized_client, invalid_grant…
	Description string
}

func (e *tokenError) Error() string {
	s := fmt.Sprintf("token endpoint: HTTP %d %s", e.Status, e.Code)
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

func (ts *tokenSource) fetch(ctx context.Context, scopes []string) (string, time.Duration, error) {
	jwt, err := ts.assertion(scopes)
	if err != nil {
		return "", 0, gatehouse.Permanent(err)
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}
	resp, err := ts.http.Do(ctx, httpx.Request{Method: "POST", Path: ts.tokenURL, Body: []byte(form.Encode()),
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	if err != nil {
		if resp == nil {
			return "", 0, fmt.Errorf("get google access token: %w", err)
		}
		var oe struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(resp.Body, &oe)
		te := &tokenError{Status: resp.Status, Code: httpx.Clip(oe.Error, 64), Description: httpx.Clip(oe.Description, 300)}
		switch gatehouse.Classify(err) {
		case gatehouse.ClassRateLimited, gatehouse.ClassRetryable:
			return "", 0, &gatehouse.ConnectorError{Class: gatehouse.Classify(err), RetryAfter: gatehouse.RetryAfterOf(err), Err: te}
		}
		// 400/401 from the token endpoint: a bad key, an unknown subject or
		// a scope not delegated. None of them heals by retrying.
		return "", 0, gatehouse.Permanent(te)
	}
	var tr struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
	}
	if err := json.Unmarshal(resp.Body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, gatehouse.Retryable(errors.New("token endpoint answered without an access_token"))
	}
	secs, err := strconv.ParseInt(tr.ExpiresIn.String(), 10, 64)
	if err != nil || secs <= 0 || secs > 24*3600 {
		secs = 300
	}
	return tr.AccessToken, time.Duration(secs) * time.Second, nil
}
