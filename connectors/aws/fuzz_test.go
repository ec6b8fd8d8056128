package aws

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/connectors"
	"github.com/rs/zerolog"
)

// FuzzAnswers sends arbitrary answers to every read path (user lookup,
// paged lists, assignment status): the connector must never panic and must
// return either a result or a classified error.
func FuzzAnswers(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"Users":[{"UserId":"u1","IdentityStoreId":"d","UserName":"a","Emails":[{"Value":"a@b","Primary":true}]}],"NextToken":"t"}`},
		{200, `{"Users":null,"NextToken":""}`},
		{200, `{"UserId":5}`},
		{200, `{"AccountAssignmentCreationStatus":{"Status":"FAILED","FailureReason":"x"}}`},
		{200, `[]`},
		{200, `{"GroupMemberships":[{"MemberId":{"UserId":1}}]}`},
		{400, `{"__type":"ThrottlingException","RetryAfterSeconds":"soon"}`},
		{500, `<html><title>x</title></html>`},
		{200, `{"Users":[],"NextToken":"same"}`},
	} {
		f.Add(s.status, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 100 || status > 599 {
			status = 200
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		y := "region: us-east-1\nidentity_store_id: d-1234567890\ninstance_arn: arn:aws:sso:::instance/ssoins-1234567890abcdef\n" +
			"endpoint_identitystore: " + srv.URL + "\nendpoint_sso: " + srv.URL + "\npoll_attempts: 1\npoll_interval: 1ms\n" +
			"credentials:\n  access_key_id: AKIAIOSFODNN7EXAMPLE\n  secret_access_key: x\n"
		s, err := config.NewSettings(y)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(&config.App{Name: "aws", Settings: s, Entitlements: map[string]*config.Entitlement{
			"ps": {Kind: gatehouse.EntPermissionSet, Resource: "PS", Level: "111122223333"},
			"g":  {Kind: gatehouse.EntGroup, Resource: "G"},
		}}, connectors.Deps{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		r := gatehouse.AccountRef{Email: "a@b", UserName: "a@b", AccountID: "u1"}
		check := func(what string, err error) {
			if err != nil && gatehouse.Classify(err) == gatehouse.ClassUnknown {
				t.Fatalf("%s: unclassified error %v", what, err)
			}
		}
		_, err = c.ListAccounts(ctx)
		check("ListAccounts", err)
		_, err = c.(gatehouse.AccountReader).ReadAccount(ctx, r)
		check("ReadAccount", err)
		check("Grant", c.Grant(ctx, r, gatehouse.Entitlement{Name: "ps"}))
	})
}
