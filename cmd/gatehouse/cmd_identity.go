package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	gatehouse "github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/lifecycle"
	"go.yaml.in/yaml/v3"
)

const (
	identityUsage         = "identity register --file FILE | identity list [--kind KIND]"
	identityRegisterUsage = "identity register --file bot.json|bot.yaml [--config FILE] [--db FILE] [--simulate] [--wait=false]"
	identityListUsage     = "identity list [--kind service_account|bot|ai_agent] [--config FILE] [--db FILE]"
	// maxRegistrationSize bounds a registration file: it is a handful of
	// fields and a list of entitlements.
	maxRegistrationSize = 64 << 10
	maxAccessItems      = 200
)

func init() {
	register(command{Name: "identity", Summary: "register and list service accounts, bots and AI agents (the same engine as Slack's /identity)",
		Usage: identityUsage, Run: runIdentity})
}

func runIdentity(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "usage: gatehouse %s\n", identityUsage)
		return 2
	}
	switch args[0] {
	case "register":
		return runIdentityRegister(ctx, args[1:], stdout, stderr)
	case "list":
		return runIdentityList(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintf(stdout, "usage: gatehouse %s\n", identityUsage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse identity: unknown subcommand %q\nusage: gatehouse %s\n", args[0], identityUsage)
	return 2
}

// registrationFile is the registration file's shape. JSON and YAML both
// decode through YAML (a superset), with unknown keys refused.
type registrationFile struct {
	Kind    string   `yaml:"kind"`
	Name    string   `yaml:"name"`
	Email   string   `yaml:"email"`
	Owner   string   `yaml:"owner"`
	Purpose string   `yaml:"purpose"`
	Expiry  string   `yaml:"expiry"`
	Access  []string `yaml:"access"`
}

// parseRegistration reads a registration file (JSON or YAML) and returns
// every problem at once. Everything is required: no owner, no access.
func parseRegistration(data []byte) (lifecycle.Registration, error) {
	if len(data) > maxRegistrationSize {
		return lifecycle.Registration{}, fmt.Errorf("registration file is larger than %d bytes", maxRegistrationSize)
	}
	var f registrationFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return lifecycle.Registration{}, errors.New("registration file is empty")
		}
		return lifecycle.Registration{}, fmt.Errorf("registration file: %v", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return lifecycle.Registration{}, errors.New("registration file must hold one document")
	}
	var errs []error
	kind := gatehouse.IdentityKind(strings.TrimSpace(f.Kind))
	if !kind.Valid() || kind.Human() {
		errs = append(errs, fmt.Errorf("kind %q: want service_account, bot or ai_agent", f.Kind))
	}
	var exp gatehouse.Date
	if strings.TrimSpace(f.Expiry) == "" {
		errs = append(errs, errors.New("expiry is required (YYYY-MM-DD)"))
	} else if d, err := gatehouse.ParseDate(strings.TrimSpace(f.Expiry)); err != nil {
		errs = append(errs, fmt.Errorf("expiry %q: %v", f.Expiry, err))
	} else {
		exp = d
	}
	if len(f.Access) == 0 {
		errs = append(errs, errors.New("access is required: the entitlements it needs, as app:entitlement"))
	}
	if len(f.Access) > maxAccessItems {
		errs = append(errs, fmt.Errorf("access lists %d entitlements; at most %d", len(f.Access), maxAccessItems))
	}
	var refs []gatehouse.EntitlementRef
	seen := map[gatehouse.EntitlementRef]bool{}
	for i, a := range f.Access {
		if i >= maxAccessItems {
			break
		}
		a = strings.TrimSpace(a)
		r, err := gatehouse.ParseEntitlementRef(a)
		if err != nil || !strings.Contains(a, ":") || r.App == "" || r.Entitlement == "" {
			errs = append(errs, fmt.Errorf("access[%d] %q: want app:entitlement", i, a))
			continue
		}
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	id := gatehouse.Identity{Kind: kind, Name: strings.TrimSpace(f.Name), Email: f.Email, Owner: f.Owner, Purpose: f.Purpose, Expiry: exp}
	id.Normalize()
	id.Kind = kind // Normalize defaults an empty kind to employee; keep what the file said
	if id.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if kind.Valid() && !kind.Human() {
		// The identity's own rules: email, owner (no owner, no access),
		// purpose, expiry.
		if err := id.Validate(); err != nil {
			errs = append(errs, err)
		}
	} else if !gatehouse.ValidEmail(id.Email) {
		errs = append(errs, fmt.Errorf("email %q is not a valid address", f.Email))
	}
	if id.Owner != "" && id.Owner == id.Email {
		errs = append(errs, errors.New("a non-human cannot own itself"))
	}
	if len(errs) > 0 {
		return lifecycle.Registration{}, errors.Join(errs...)
	}
	return lifecycle.Registration{Identity: id, Access: refs}, nil
}

// checkCatalog refuses entitlements the config does not have.
func checkCatalog(cfg *config.Config, refs []gatehouse.EntitlementRef) error {
	var errs []error
	for _, r := range refs {
		if _, ok := cfg.Entitlement(r); !ok {
			errs = append(errs, fmt.Errorf("access %s is not in the config's catalog", r))
		}
	}
	return errors.Join(errs...)
}

func runIdentityRegister(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("identity register", identityRegisterUsage, stderr)
	f := addEngineFlags(fs, true)
	path := fs.String("file", "", "registration file (JSON or YAML: kind, name, email, owner, purpose, expiry, access)")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	if *path == "" {
		fs.Usage()
		return 2
	}
	// Read and validate before touching the database: bad input writes nothing.
	fh, err := os.Open(*path)
	if err != nil {
		return fail(stderr, "read registration: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxRegistrationSize+1))
	fh.Close()
	if err != nil {
		return fail(stderr, "read registration %s: %v", *path, err)
	}
	reg, err := parseRegistration(data)
	if err != nil {
		return fail(stderr, "%s: %v", *path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	env, code := openLifecycle(f, stderr, openOpts{stdout: stdout})
	if env == nil {
		return code
	}
	defer env.close()
	if err := checkCatalog(env.cfg, reg.Access); err != nil {
		return fail(stderr, "%s: %v", *path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	reg.Requester, reg.Source = cliActor().ID, "cli"
	out, err := env.eng.RegisterNonHuman(ctx, reg)
	if err != nil {
		return fail(stderr, "%s", lifecycleErr(err))
	}
	fmt.Fprintf(stdout, "registered %s %s (owner %s, expires %s; expiry run %s)\n", out.Identity.Kind, out.Identity.Email, out.Identity.Owner, out.Identity.Expiry, out.Expiry.ID)
	code = env.execute(ctx, f, out.Joiner, stdout, stderr)
	if out.Request != nil && code == 0 {
		code = env.execute(ctx, f, *out.Request, stdout, stderr)
	}
	return code
}

func runIdentityList(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("identity list", identityListUsage, stderr)
	f := addEngineFlags(fs, false)
	kind := fs.String("kind", "", "only this kind: service_account, bot or ai_agent")
	if _, code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	k := gatehouse.IdentityKind(*kind)
	if k != "" && (!k.Valid() || k.Human()) {
		fmt.Fprintf(stderr, "gatehouse identity list: --kind %q: want service_account, bot or ai_agent\n", *kind)
		return 2
	}
	env, code := openLifecycle(f, stderr, openOpts{mustExist: true, readOnly: true})
	if env == nil {
		return code
	}
	defer env.close()
	var ids []gatehouse.Identity
	err := env.db.EachIdentity(func(id gatehouse.Identity) error {
		if !id.Kind.Human() && (k == "" || id.Kind == k) {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return fail(stderr, "%v", err)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Email < ids[j].Email })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tKIND\tOWNER\tEXPIRY\tSTATE\tPURPOSE")
	for _, id := range ids {
		state := string(id.Status)
		if left := id.Attr(lifecycle.AttrOwnerLeft); left != "" {
			state = "frozen (owner " + left + " left; asked " + id.Attr(lifecycle.AttrHandoffTo) + ")"
		}
		owner := id.Owner
		if owner == "" {
			owner = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id.Email, id.Kind, owner, id.Expiry, state, purposeLine(id.Purpose, 60))
	}
	tw.Flush()
	return 0
}

func purposeLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
