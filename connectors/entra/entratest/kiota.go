package entratest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KiotaRelPath is where .ci/deps.d/entra.sh installs
// @microsoft/msgraph-sdk-users, the Kiota-generated Graph v1.0 users API.
// Kiota generates it from Microsoft's OpenAPI description of Graph, so its
// request builders carry, per path, the URI template (with the OData query
// options) and the methods with their request and response types: the
// machine-readable paths that microsoft-graph-types lacks. Microsoft
// publishes no such package for /groups, whose routes stay as transcribed
// from the REST reference.
const KiotaRelPath = ".ci/specs/entra/node_modules/@microsoft/msgraph-sdk-users"

// kiotaOp is one method of a Kiota request builder.
type kiotaOp struct {
	respFactory string // "User", "UserCollectionResponse", "RevokeSignInSessionsPostResponse"
	reqBody     string // "User" from serializeUser, "" when none
}

// kiotaPath is one request builder: the query options of its URI template
// and its operations by lower-case method.
type kiotaPath struct {
	template string
	query    map[string]bool
	ops      map[string]kiotaOp
}

var (
	kiotaTemplateRE = regexp.MustCompile(`RequestBuilderUriTemplate = "([^"]+)"`)
	kiotaMethodRE   = regexp.MustCompile(`^    (get|post|patch|put|delete): \{`)
	kiotaFactoryRE  = regexp.MustCompile(`responseBodyFactory: create(\w+)FromDiscriminatorValue`)
	kiotaSerialRE   = regexp.MustCompile(`requestBodySerializer: serialize(\w+)`)
)

// kiotaDir maps a route pattern to its request builder's directory:
// /users/{id}/memberOf → users/item/memberOf.
func kiotaDir(pattern string) string {
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "item"
		}
	}
	return filepath.Join(segs...)
}

// parseKiota reads one request builder's index.js.
func parseKiota(js string) (*kiotaPath, error) {
	m := kiotaTemplateRE.FindStringSubmatch(js)
	if m == nil {
		return nil, fmt.Errorf("no URI template")
	}
	kp := &kiotaPath{template: m[1], query: map[string]bool{}, ops: map[string]kiotaOp{}}
	if i := strings.Index(m[1], "{?"); i >= 0 {
		for _, q := range strings.Split(strings.TrimSuffix(m[1][i+2:], "}"), ",") {
			kp.query[strings.ReplaceAll(q, "%24", "$")] = true
		}
	}
	start := strings.Index(js, "RequestsMetadata = {")
	if start < 0 {
		return nil, fmt.Errorf("no request metadata")
	}
	var cur string
	for _, line := range strings.Split(js[start:], "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "};" {
			break
		}
		if mm := kiotaMethodRE.FindStringSubmatch(line); mm != nil {
			cur = mm[1]
			kp.ops[cur] = kiotaOp{}
			continue
		}
		if cur == "" {
			continue
		}
		op := kp.ops[cur]
		if mm := kiotaFactoryRE.FindStringSubmatch(line); mm != nil {
			op.respFactory = mm[1]
		}
		if mm := kiotaSerialRE.FindStringSubmatch(line); mm != nil {
			op.reqBody = mm[1]
		}
		kp.ops[cur] = op
	}
	return kp, nil
}

// checkRoutesAgainstKiota verifies every /users route of the table against
// the Kiota users API under root: the path exists, the method exists, the
// request body and response types agree, and it returns the query options
// each path documents, keyed by pattern.
func checkRoutesAgainstKiota(root string) (map[string]map[string]bool, error) {
	dir := filepath.Join(root, KiotaRelPath)
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return nil, fmt.Errorf("%s: %w (%v)", dir, ErrSchemaMissing, err)
	}
	out := map[string]map[string]bool{}
	var probs []string
	for _, rt := range routes {
		if !strings.HasPrefix(rt.pattern, "/users") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, kiotaDir(rt.pattern), "index.js"))
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s %s: no such path in the Graph users API (%v)", rt.method, rt.pattern, err))
			continue
		}
		kp, err := parseKiota(string(b))
		if err != nil {
			probs = append(probs, fmt.Sprintf("%s %s: %v", rt.method, rt.pattern, err))
			continue
		}
		op, ok := kp.ops[strings.ToLower(rt.method)]
		if !ok {
			probs = append(probs, fmt.Sprintf("%s %s: the Graph users API has no %s on %s", rt.method, rt.pattern, rt.method, kp.template))
			continue
		}
		wantResp := rt.respType
		switch {
		case rt.collection:
			wantResp += "CollectionResponse"
		case rt.respType == "Edm.Boolean":
			wantResp = "" // Kiota names a per-action wrapper type: {"value": bool}
		}
		if wantResp != "" && op.respFactory != wantResp {
			probs = append(probs, fmt.Sprintf("%s %s: answers %s per the Graph users API, the table says %s", rt.method, rt.pattern, op.respFactory, wantResp))
		}
		if (rt.reqType != "" && rt.reqType != "$ref") && op.reqBody != rt.reqType {
			probs = append(probs, fmt.Sprintf("%s %s: body %q per the Graph users API, the table says %q", rt.method, rt.pattern, op.reqBody, rt.reqType))
		}
		if rt.reqType == "" && op.reqBody != "" {
			probs = append(probs, fmt.Sprintf("%s %s: takes a %s body per the Graph users API", rt.method, rt.pattern, op.reqBody))
		}
		out[rt.pattern] = kp.query
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("the route table disagrees with the Graph users API:\n%s", strings.Join(probs, "\n"))
	}
	return out, nil
}
