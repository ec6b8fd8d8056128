package aws

import (
	"bufio"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// Settings are the aws connector's settings block.
type Settings struct {
	// Region is the IAM Identity Center home region, e.g. eu-west-1.
	Region string `yaml:"region"`
	// IdentityStoreID is the Identity Store, d-xxxxxxxxxx.
	IdentityStoreID string `yaml:"identity_store_id"`
	// InstanceARN is arn:aws:sso:::instance/ssoins-xxxxxxxxxxxxxxxx.
	InstanceARN string      `yaml:"instance_arn"`
	Credentials Credentials `yaml:"credentials"`
	// EndpointIdentityStore and EndpointSSO replace the regional endpoints
	// (tests, VPC endpoints).
	EndpointIdentityStore string `yaml:"endpoint_identitystore"`
	EndpointSSO           string `yaml:"endpoint_sso"`
	// Accounts names the AWS account ids a permission set is assigned in,
	// by permission set name, for entitlements whose level does not name them.
	Accounts map[string][]string `yaml:"accounts"`
	// FindBy is the unique attribute users are looked up by: userName
	// (default) or emails.value.
	FindBy string `yaml:"find_by"`
	// DisabledUserType is the UserType Disable writes to mark a user whose
	// access Gatehouse removed (default "Disabled"); Enable clears it.
	DisabledUserType string `yaml:"disabled_user_type"`
	// PollInterval and PollAttempts bound how long one operation waits for an
	// asynchronous account assignment before handing back "in progress".
	PollInterval time.Duration `yaml:"poll_interval"`
	PollAttempts int           `yaml:"poll_attempts"`
	// PageSize is MaxResults per list call (default 100).
	PageSize int           `yaml:"page_size"`
	Timeout  time.Duration `yaml:"timeout"`
}

// Credentials say where the AWS keys come from.
type Credentials struct {
	// Source is static (access_key_id + secret_access_key), environment
	// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or
	// shared_config (the profile's static keys in ~/.aws/credentials).
	// Default: static when access_key_id is set, else environment.
	Source          string        `yaml:"source"`
	AccessKeyID     string        `yaml:"access_key_id"`
	SecretAccessKey config.Secret `yaml:"secret_access_key"`
	SessionToken    config.Secret `yaml:"session_token"`
	// Profile and File select the shared credentials (default: AWS_PROFILE
	// or "default"; AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials).
	Profile string `yaml:"profile"`
	File    string `yaml:"file"`
}

var (
	regionRE        = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	identityStoreRE = regexp.MustCompile(`^d-[0-9a-f]{10}$|^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$`)
	instanceARNRE   = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b):sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`)
	accountIDRE     = regexp.MustCompile(`^[0-9]{12}$`)
)

// target is one configured entitlement as the connector acts on it.
type target struct {
	name     string
	kind     gatehouse.EntitlementKind
	resource string   // permission set name or group display name
	accounts []string // permission sets: the AWS accounts assigned
}

func validateSettings(app *config.App, s *Settings) (map[string]*target, config.ErrorList) {
	var errs config.ErrorList
	errs = app.Settings.Decode(s)
	errs, _ = errs.SplitWarnings()
	key := "apps." + app.Name + ".settings"
	pos := app.Settings.Pos()
	if !regionRE.MatchString(s.Region) {
		errs.Add(pos, key+".region", "region %q is not an AWS region such as eu-west-1 (the IAM Identity Center home region)", s.Region)
	}
	if !identityStoreRE.MatchString(s.IdentityStoreID) {
		errs.Add(pos, key+".identity_store_id", "identity_store_id %q is not an Identity Store id (d-xxxxxxxxxx; IAM Identity Center console → Settings)", s.IdentityStoreID)
	}
	if !instanceARNRE.MatchString(s.InstanceARN) {
		errs.Add(pos, key+".instance_arn", "instance_arn %q is not an IAM Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)", s.InstanceARN)
	}
	for _, ep := range []struct{ v, k string }{{s.EndpointIdentityStore, "endpoint_identitystore"}, {s.EndpointSSO, "endpoint_sso"}} {
		if ep.v == "" {
			continue
		}
		if u, err := url.Parse(ep.v); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs.Add(pos, key+"."+ep.k, "%s %q is not an http(s) endpoint URL without a path", ep.k, ep.v)
		}
	}
	switch s.FindBy {
	case "":
		s.FindBy = "userName"
	case "userName", "emails.value":
	default:
		errs.Add(pos, key+".find_by", "find_by must be userName or emails.value, not %q", s.FindBy)
	}
	if s.DisabledUserType == "" {
		s.DisabledUserType = "Disabled"
	}
	if s.PollInterval < 0 || s.PollInterval > time.Minute {
		errs.Add(pos, key+".poll_interval", "poll_interval must be between 0 and 1m")
	}
	if s.PollInterval == 0 {
		s.PollInterval = time.Second
	}
	if s.PollAttempts < 0 || s.PollAttempts > 60 {
		errs.Add(pos, key+".poll_attempts", "poll_attempts must be between 0 and 60")
	}
	if s.PollAttempts == 0 {
		s.PollAttempts = 5
	}
	if s.PageSize < 0 || s.PageSize > 100 {
		errs.Add(pos, key+".page_size", "page_size must be between 1 and 100")
	}
	if s.PageSize == 0 {
		s.PageSize = 100
	}
	cr := &s.Credentials
	if cr.Source == "" {
		if cr.AccessKeyID != "" {
			cr.Source = "static"
		} else {
			cr.Source = "environment"
		}
	}
	switch cr.Source {
	case "static":
		if !regexp.MustCompile(`^(AKIA|ASIA)[A-Z0-9]{12,124}$`).MatchString(cr.AccessKeyID) {
			errs.Add(pos, key+".credentials.access_key_id", "static credentials need access_key_id (AKIA… or ASIA…)")
		}
		if !cr.SecretAccessKey.IsSet() {
			errs.Add(pos, key+".credentials.secret_access_key", "static credentials need secret_access_key (${ENV} or secret_access_key_file)")
		}
	case "environment", "shared_config":
		if cr.AccessKeyID != "" || cr.SecretAccessKey.IsSet() {
			errs.Add(pos, key+".credentials.access_key_id", "access_key_id and secret_access_key are only for source static")
		}
	default:
		errs.Add(pos, key+".credentials.source", "credentials source %q is not one of static, environment, shared_config", cr.Source)
	}

	// Entitlements: permission sets name their accounts by level or by
	// settings.accounts; groups are Identity Store groups by display name.
	targets := map[string]*target{}
	psNames := map[string]bool{}
	names := make([]string, 0, len(app.Entitlements))
	for n := range app.Entitlements {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := app.Entitlements[n]
		if e == nil || e.Kind == gatehouse.EntAccount {
			continue
		}
		ek := "apps." + app.Name + ".entitlements." + n
		res := e.Resource
		if res == "" {
			res = n
		}
		t := &target{name: n, kind: e.Kind, resource: res}
		switch e.Kind {
		case gatehouse.EntPermissionSet:
			psNames[res] = true
			if e.Level != "" {
				for _, a := range strings.Split(e.Level, ",") {
					t.accounts = append(t.accounts, strings.TrimSpace(a))
				}
			} else {
				t.accounts = append(t.accounts, s.Accounts[res]...)
			}
			if len(t.accounts) == 0 {
				errs.Add(e.Pos, ek+".level", "permission set %q names no AWS account: set level to the account id(s), comma-separated, or settings.accounts.%s", res, res)
			}
			seen := map[string]bool{}
			for _, a := range t.accounts {
				if !accountIDRE.MatchString(a) {
					errs.Add(e.Pos, ek+".level", "%q is not a 12-digit AWS account id", a)
				}
				if seen[a] {
					errs.Add(e.Pos, ek+".level", "account %s is listed twice", a)
				}
				seen[a] = true
			}
		case gatehouse.EntGroup:
			if e.Level != "" {
				errs.Add(e.Pos, ek+".level", "group entitlements take no level (an Identity Store membership has none)")
			}
		default:
			errs.Add(e.Pos, ek+".kind", "the aws connector manages kinds permission_set and group, not %q", e.Kind)
			continue
		}
		targets[n] = t
	}
	for ps, accts := range s.Accounts {
		if !psNames[ps] {
			errs.Add(pos, key+".accounts."+ps, "no permission_set entitlement has resource %q", ps)
		}
		for _, a := range accts {
			if !accountIDRE.MatchString(a) {
				errs.Add(pos, key+".accounts."+ps, "%q is not a 12-digit AWS account id", a)
			}
		}
	}
	return targets, errs
}

// credProvider returns the credentials to sign with, reading the
// environment or shared file once and again only when temporary
// credentials are about to lapse.
type credProvider struct {
	cfg Credentials
	now func() time.Time
	env func(string) string

	mu     sync.Mutex
	cached *credentials
}

var errNoCredentials = errors.New("no AWS credentials")

func (p *credProvider) get() (credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached != nil && (p.cached.Expires.IsZero() || p.now().Add(time.Minute).Before(p.cached.Expires)) {
		return *p.cached, nil
	}
	var c credentials
	switch p.cfg.Source {
	case "static":
		secret, err := p.cfg.SecretAccessKey.Value()
		if err != nil {
			return c, fmt.Errorf("secret_access_key: %w", err)
		}
		c = credentials{AccessKeyID: p.cfg.AccessKeyID, SecretAccessKey: secret}
		if p.cfg.SessionToken.IsSet() {
			if c.SessionToken, err = p.cfg.SessionToken.Value(); err != nil {
				return c, fmt.Errorf("session_token: %w", err)
			}
		}
	case "environment":
		c = credentials{AccessKeyID: p.env("AWS_ACCESS_KEY_ID"), SecretAccessKey: p.env("AWS_SECRET_ACCESS_KEY"), SessionToken: p.env("AWS_SESSION_TOKEN")}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return c, fmt.Errorf("%w: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", errNoCredentials)
		}
	case "shared_config":
		var err error
		if c, err = p.shared(); err != nil {
			return c, err
		}
	}
	p.cached = &c
	return c, nil
}

// shared reads static keys of one profile from the shared credentials file.
func (p *credProvider) shared() (credentials, error) {
	file := p.cfg.File
	if file == "" {
		file = p.env("AWS_SHARED_CREDENTIALS_FILE")
	}
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return credentials{}, fmt.Errorf("%w: no home directory for ~/.aws/credentials", errNoCredentials)
		}
		file = filepath.Join(home, ".aws", "credentials")
	}
	profile := p.cfg.Profile
	if profile == "" {
		profile = p.env("AWS_PROFILE")
	}
	if profile == "" {
		profile = "default"
	}
	f, err := os.Open(file)
	if err != nil {
		return credentials{}, fmt.Errorf("%w: %w", errNoCredentials, err)
	}
	defer f.Close()
	c, found := parseSharedCredentials(bufio.NewScanner(f), profile)
	if !found || c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return credentials{}, fmt.Errorf("%w: profile %q in %s has no aws_access_key_id and aws_secret_access_key", errNoCredentials, profile, file)
	}
	return c, nil
}

func parseSharedCredentials(sc *bufio.Scanner, profile string) (credentials, bool) {
	var c credentials
	in, found := false, false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' && strings.HasSuffix(line, "]") {
			name := strings.TrimSpace(line[1 : len(line)-1])
			name = strings.TrimPrefix(name, "profile ")
			in = name == profile
			found = found || in
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			c.AccessKeyID = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretAccessKey = strings.TrimSpace(v)
		case "aws_session_token":
			c.SessionToken = strings.TrimSpace(v)
		}
	}
	return c, found
}
