package githubtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/gatehousehq/gatehouse/connectors/internal/spectest"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// specDir is where .ci/deps.d/github.sh installs @octokit/openapi.
const specDir = ".ci/specs/github/node_modules/@octokit/openapi/generated"

// Operations are the REST operations the fake serves, and so the ones
// validated. They are cut out of GitHub's own description with every
// component they reference, so validation uses the vendor's schemas while
// loading in milliseconds instead of parsing all 800 paths.
var Operations = []struct{ Method, Path string }{
	{"POST", "/app/installations/{installation_id}/access_tokens"},
	{"GET", "/orgs/{org}"},
	{"GET", "/orgs/{org}/members"},
	{"GET", "/orgs/{org}/memberships/{username}"},
	{"PUT", "/orgs/{org}/memberships/{username}"},
	{"DELETE", "/orgs/{org}/memberships/{username}"},
	{"GET", "/orgs/{org}/invitations"},
	{"POST", "/orgs/{org}/invitations"},
	{"DELETE", "/orgs/{org}/invitations/{invitation_id}"},
	{"GET", "/orgs/{org}/teams/{team_slug}/members"},
	{"GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}"},
	{"PUT", "/orgs/{org}/teams/{team_slug}/memberships/{username}"},
	{"DELETE", "/orgs/{org}/teams/{team_slug}/memberships/{username}"},
	{"GET", "/orgs/{org}/outside_collaborators"},
	{"DELETE", "/orgs/{org}/outside_collaborators/{username}"},
	{"GET", "/orgs/{org}/credential-authorizations"},
	{"DELETE", "/orgs/{org}/credential-authorizations/{credential_id}"},
	{"GET", "/orgs/{org}/copilot/billing/seats"},
	{"GET", "/repos/{owner}/{repo}/collaborators"},
	{"GET", "/repos/{owner}/{repo}/collaborators/{username}"},
	{"PUT", "/repos/{owner}/{repo}/collaborators/{username}"},
	{"DELETE", "/repos/{owner}/{repo}/collaborators/{username}"},
	{"GET", "/repos/{owner}/{repo}/collaborators/{username}/permission"},
}

// Spec validates requests and responses against GitHub's OpenAPI description.
type Spec struct {
	// Source names the description files used.
	Source string
	router routers.Router
}

var (
	specOnce sync.Once
	spec     *Spec
	specErr  error
)

// LoadSpec loads the description once per process: api.github.com.json, and
// ghec.json for the operations only GitHub Enterprise Cloud has (SAML
// credential authorizations).
func LoadSpec() (*Spec, error) {
	specOnce.Do(func() { spec, specErr = loadSpec() })
	return spec, specErr
}

type rawDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

func readDoc(rel string) (*rawDoc, error) {
	b, err := spectest.ReadFile("githubtest: GitHub's OpenAPI description (@octokit/openapi)", rel)
	if err != nil {
		return nil, err
	}
	var d rawDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("githubtest: parse %s: %w", rel, err)
	}
	return &d, nil
}

func loadSpec() (*Spec, error) {
	dotcom, err := readDoc(specDir + "/api.github.com.json")
	if err != nil {
		return nil, err
	}
	var ghec *rawDoc
	paths := map[string]map[string]json.RawMessage{}
	comps := map[string]map[string]json.RawMessage{}
	var pending []json.RawMessage
	for _, op := range Operations {
		src := dotcom
		m := strings.ToLower(op.Method)
		if _, ok := dotcom.Paths[op.Path][m]; !ok {
			if ghec == nil {
				if ghec, err = readDoc(specDir + "/ghec.json"); err != nil {
					return nil, err
				}
			}
			src = ghec
		}
		raw, ok := src.Paths[op.Path][m]
		if !ok {
			return nil, fmt.Errorf("githubtest: %s %s is not in GitHub's description", op.Method, op.Path)
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]json.RawMessage{}
			if p, ok := src.Paths[op.Path]["parameters"]; ok {
				paths[op.Path]["parameters"] = p
				pending = append(pending, p)
			}
		}
		paths[op.Path][m] = raw
		pending = append(pending, raw)
		// Collect every component the operation references, transitively.
		for len(pending) > 0 {
			cur := pending[len(pending)-1]
			pending = pending[:len(pending)-1]
			for _, ref := range refsIn(cur) {
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				if len(parts) != 2 {
					return nil, fmt.Errorf("githubtest: unsupported $ref %q", ref)
				}
				if comps[parts[0]] == nil {
					comps[parts[0]] = map[string]json.RawMessage{}
				}
				if _, done := comps[parts[0]][parts[1]]; done {
					continue
				}
				c, ok := src.Components[parts[0]][parts[1]]
				if !ok && ghec != nil {
					c, ok = ghec.Components[parts[0]][parts[1]]
				}
				if !ok {
					return nil, fmt.Errorf("githubtest: $ref %q not found", ref)
				}
				comps[parts[0]][parts[1]] = c
				pending = append(pending, c)
			}
		}
	}
	mini, err := json.Marshal(map[string]any{
		"openapi":    dotcom.OpenAPI,
		"info":       map[string]string{"title": "GitHub REST API (operations used by Gatehouse)", "version": "1.1.4"},
		"servers":    []map[string]string{{"url": "https://api.github.com"}},
		"paths":      paths,
		"components": comps,
	})
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(mini)
	if err != nil {
		return nil, fmt.Errorf("githubtest: load extracted description: %w", err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation(), openapi3.DisableSchemaDefaultsValidation()); err != nil {
		return nil, fmt.Errorf("githubtest: extracted description invalid: %w", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("githubtest: router: %w", err)
	}
	src := "@octokit/openapi api.github.com.json"
	if ghec != nil {
		src += " (+ ghec.json for Enterprise Cloud operations)"
	}
	return &Spec{Source: src, router: r}, nil
}

// refsIn returns the "$ref" values inside a JSON document.
func refsIn(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch t := x.(type) {
		case map[string]any:
			if s, ok := t["$ref"].(string); ok {
				out = append(out, s)
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(t[k])
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// Exchange is one request and response to validate.
type Exchange struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	Status                 int
	RespHeader             http.Header
	RespBody               []byte
}

// Validate checks a request and its response against the description. A
// request matching no described operation is an error too.
func (s *Spec) Validate(ex Exchange) error {
	req, err := http.NewRequest(ex.Method, "https://api.github.com"+ex.Path, bytes.NewReader(ex.Body))
	if err != nil {
		return err
	}
	req.URL.RawQuery = ex.RawQuery
	req.Header = ex.Header.Clone()
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("no operation in GitHub's description: %w", err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(ex.Body))
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.Status, Header: ex.RespHeader,
		Body: io.NopCloser(bytes.NewReader(ex.RespBody)), Options: opts}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("response %d: %w", ex.Status, err)
	}
	return nil
}
