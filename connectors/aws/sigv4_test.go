package aws

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// TestSigV4MatchesSDK checks the signer against AWS's own Go SDK signer
// (a test-only dependency), for both services, with and without a session
// token, and for a body with characters JSON escapes.
func TestSigV4MatchesSDK(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	cases := []struct {
		service, region, host, target, token, body string
	}{
		{"identitystore", "eu-west-1", "identitystore.eu-west-1.amazonaws.com", "AWSIdentityStore.ListUsers", "", `{"IdentityStoreId":"d-1234567890","MaxResults":2}`},
		{"sso", "us-east-1", "sso.us-east-1.amazonaws.com", "SWBExternalService.CreateAccountAssignment", "FwoGZXIvYXdzEJr//////////wEaDOi+tok=", `{"InstanceArn":"arn:aws:sso:::instance/ssoins-1","Name":"Zoë  O'Brien \u003c\u003e"}`},
		{"identitystore", "ap-southeast-2", "127.0.0.1:8443", "AWSIdentityStore.GetUserId", "", ``},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			creds := credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", SessionToken: tc.token}
			h := map[string]string{"host": tc.host, "content-type": "application/x-amz-json-1.1", "x-amz-date": when.Format("20060102T150405Z"), "x-amz-target": tc.target}
			if tc.token != "" {
				h["x-amz-security-token"] = tc.token
			}
			u := &url.URL{Scheme: "https", Host: tc.host, Path: "/"}
			got := sigV4(creds, tc.region, tc.service, "POST", u, h, []byte(tc.body), when)

			req, err := http.NewRequest("POST", u.String(), strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			req.ContentLength = 0 // not among the headers we sign
			req.Header.Set("Content-Type", "application/x-amz-json-1.1")
			req.Header.Set("X-Amz-Target", tc.target)
			err = v4.NewSigner().SignHTTP(context.Background(), awssdk.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: tc.token},
				req, hexSHA256([]byte(tc.body)), tc.service, tc.region, when)
			if err != nil {
				t.Fatal(err)
			}
			if want := req.Header.Get("Authorization"); got != want {
				t.Fatalf("signature differs from the SDK's:\n got %s\nwant %s", got, want)
			}
		})
	}
}
