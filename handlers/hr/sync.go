package hr

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
)

// SyncReport says what a sync found and (unless dry) did.
type SyncReport struct {
	Source    string
	DryRun    bool
	Records   int // people in the roster
	Joiners   []Change
	Movers    []Change
	Leavers   []Change
	Rehires   []Change
	Other     []Change // leave, return, contract end, data-only updates
	Ambiguous []Ambiguity
	Held      bool // the mass-change guard held the leavers and movers
	Outcomes  []Outcome
}

// index is an in-memory view of the stored identities for a sync diff.
type index struct {
	emp   map[string]*gatehouse.Identity
	email map[string]*gatehouse.Identity
	all   []*gatehouse.Identity
}

func newIndex(ids []gatehouse.Identity) *index {
	ix := &index{emp: make(map[string]*gatehouse.Identity, len(ids)), email: make(map[string]*gatehouse.Identity, len(ids)), all: make([]*gatehouse.Identity, 0, len(ids))}
	for i := range ids {
		id := &ids[i]
		ix.all = append(ix.all, id)
		if id.EmployeeID != "" {
			ix.emp[id.EmployeeID] = id
		}
		if id.Email != "" {
			ix.email[strings.ToLower(id.Email)] = id
		}
	}
	return ix
}

func (ix *index) byEmployeeID(id string) (*gatehouse.Identity, error) { return ix.emp[id], nil }
func (ix *index) byEmail(e string) (*gatehouse.Identity, error)       { return ix.email[e], nil }

// Diff compares a full roster with the stored identities: every record is
// matched and planned; identities that came from this source and are
// missing from the roster become leavers; records sharing an email, and
// records matching two identities, are ambiguous. It is pure (no I/O).
func Diff(p *Planner, records []Record, stored []gatehouse.Identity, now time.Time) ([]Change, []Ambiguity) {
	ix := newIndex(stored)
	var changes []Change
	var ambs []Ambiguity
	emailCount := make(map[string]int, len(records))
	for _, r := range records {
		if r.Email != "" {
			emailCount[r.Email]++
		}
	}
	seen := make(map[string]bool, len(records))
	flagged := map[string]bool{}
	for _, r := range records {
		r.Source = p.Source
		if r.Email != "" && emailCount[r.Email] > 1 {
			if !flagged[r.Email] {
				flagged[r.Email] = true
				ambs = append(ambs, Ambiguity{Source: p.Source, EmployeeID: r.EmployeeID, Email: r.Email, Reason: fmt.Sprintf("%d roster records share this email", emailCount[r.Email])})
			}
			// Keep whoever it may be from looking absent.
			if prev, _ := ix.byEmployeeID(r.EmployeeID); prev != nil {
				seen[prev.Key()] = true
			}
			if prev, _ := ix.byEmail(r.Email); prev != nil {
				seen[prev.Key()] = true
			}
			continue
		}
		prev, amb, _ := match(ix, r)
		if amb != nil {
			ambs = append(ambs, *amb)
			for _, k := range amb.Candidates {
				seen[k] = true
			}
			continue
		}
		if prev != nil {
			seen[prev.Key()] = true
		}
		ch := p.Plan(prev, r, now)
		if len(ch.Events) > 0 || ch.Store {
			changes = append(changes, ch)
		}
	}
	// Absent from the roster: a leaver, but only for identities this source
	// brought in (people onboarded by hand or from another HR system are not
	// this roster's to remove) and never for non-humans.
	for _, id := range ix.all {
		if seen[id.Key()] || id.Attr(AttrSource) != p.Source || !id.Kind.Human() || id.Status == gatehouse.StatusTerminated {
			continue
		}
		r := Record{Source: p.Source, EmployeeID: id.EmployeeID, Email: id.Email, Status: StatusTerminated}
		ch := p.Plan(id, r, now)
		if len(ch.Events) > 0 {
			for i := range ch.Events {
				ch.Events[i].Reason = "no longer in the " + p.Source + " roster"
			}
			changes = append(changes, ch)
		}
	}
	return changes, ambs
}

// resolveManagers fills ManagerEmail from ManagerID where the vendor only
// names the manager by id (Rippling, Personio, some Workday reports): first
// from the roster itself (vendor id or employee id), then from the store.
func resolveManagers(records []Record, stored []gatehouse.Identity) {
	byID := make(map[string]string, 2*len(records))
	for _, r := range records {
		if r.Email == "" {
			continue
		}
		if r.VendorID != "" {
			byID[r.VendorID] = r.Email
		}
		if r.EmployeeID != "" {
			byID[r.EmployeeID] = r.Email
		}
	}
	for _, id := range stored {
		if id.EmployeeID != "" && byID[id.EmployeeID] == "" {
			byID[id.EmployeeID] = id.Email
		}
	}
	for i := range records {
		if r := &records[i]; r.ManagerEmail == "" && r.ManagerID != "" {
			r.ManagerEmail = strings.ToLower(byID[r.ManagerID])
		}
	}
}

// Sync reads the named source's full roster, diffs it against the store and,
// unless dryRun, submits the events (through the mass-change guard) and
// stores the identities. It catches whatever webhooks missed.
func (s *Service) Sync(ctx context.Context, name string, dryRun bool) (*SyncReport, error) {
	src, ok := s.sources[name]
	if !ok {
		return nil, fmt.Errorf("hr sync: no source named %q (have %s)", name, strings.Join(s.hr.SourceNames(), ", "))
	}
	records, err := src.roster(ctx)
	if err != nil {
		return nil, fmt.Errorf("hr sync %s: read roster: %w", name, err)
	}
	// Read the store under the lock so a webhook applied meanwhile is seen.
	s.submitMu.Lock()
	defer s.submitMu.Unlock()
	var stored []gatehouse.Identity
	if err := s.st.EachIdentity(func(id gatehouse.Identity) error { stored = append(stored, id); return nil }); err != nil {
		return nil, fmt.Errorf("hr sync %s: %w", name, err)
	}
	resolveManagers(records, stored)
	changes, ambs := Diff(s.planner(src), records, stored, s.now())
	rep := &SyncReport{Source: name, DryRun: dryRun, Records: len(records), Ambiguous: ambs}
	for _, c := range changes {
		rep.add(c)
	}
	for _, a := range ambs {
		if !dryRun {
			s.ambiguous(ctx, a)
		}
	}
	if dryRun {
		return rep, nil
	}
	if s.sub == nil {
		return rep, fmt.Errorf("hr sync %s: no lifecycle engine to submit to", name)
	}
	outs, err := s.applyChanges(ctx, name, "sync", changes)
	rep.Outcomes = outs
	for _, o := range outs {
		if o.Held {
			rep.Held = true
		}
	}
	if err != nil {
		return rep, fmt.Errorf("hr sync %s: %w", name, err)
	}
	return rep, nil
}

func (r *SyncReport) add(c Change) {
	kinds := map[gatehouse.EventType]bool{}
	for _, e := range c.Events {
		kinds[e.Type] = true
	}
	switch {
	case kinds[gatehouse.EventJoiner]:
		r.Joiners = append(r.Joiners, c)
	case kinds[gatehouse.EventRehire]:
		r.Rehires = append(r.Rehires, c)
	case kinds[gatehouse.EventLeaver]:
		r.Leavers = append(r.Leavers, c)
	case kinds[gatehouse.EventMover]:
		r.Movers = append(r.Movers, c)
	default:
		r.Other = append(r.Other, c)
	}
}

// Sources lists the configured source names.
func (s *Service) Sources() []string {
	out := make([]string, 0, len(s.sources))
	for n := range s.sources {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SyncSources lists the sources the scheduled sync reads.
func (s *Service) SyncSources() []string { return s.syncSources() }
