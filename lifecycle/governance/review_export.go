package governance

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
)

// EvidenceRow is one line of an access review's evidence for an auditor:
// what was reviewed, by whom, what they decided and when, and the run that
// carried out a Revoke with its final status.
type EvidenceRow struct {
	Campaign      string    `json:"campaign"`
	CampaignName  string    `json:"campaign_name,omitempty"`
	Scope         string    `json:"scope"`
	StartedBy     string    `json:"started_by"`
	StartedAt     time.Time `json:"started_at"`
	Deadline      time.Time `json:"deadline"`
	Item          string    `json:"item"`
	Identity      string    `json:"identity"`
	Email         string    `json:"email"`
	App           string    `json:"app"`
	Entitlement   string    `json:"entitlement"`
	Risk          string    `json:"risk"`
	Reviewer      string    `json:"reviewer"`
	ReviewerRole  string    `json:"reviewer_role"`
	EscalatedFrom []string  `json:"escalated_from,omitempty"`
	Decision      string    `json:"decision"` // keep, revoke, or pending
	Reason        string    `json:"reason,omitempty"`
	DecidedBy     string    `json:"decided_by,omitempty"`
	DecidedAt     time.Time `json:"decided_at,omitzero"`
	RunID         string    `json:"run_id,omitempty"`
	RunStatus     string    `json:"run_status,omitempty"`
}

// EvidenceColumns are the CSV header, in EvidenceRow's order.
var EvidenceColumns = []string{"campaign", "campaign_name", "scope", "started_by", "started_at", "deadline", "item", "identity", "email", "app",
	"entitlement", "risk", "reviewer", "reviewer_role", "escalated_from", "decision", "reason", "decided_by", "decided_at", "run_id", "run_status"}

// Evidence returns a campaign's evidence rows, one per item.
func (r *Reviews) Evidence(campaignID string) ([]EvidenceRow, error) {
	c, err := r.Campaign(campaignID)
	if err != nil {
		return nil, err
	}
	items, err := r.DB.ReviewItems(campaignID)
	if err != nil {
		return nil, err
	}
	status := map[string]string{}
	out := make([]EvidenceRow, 0, len(items))
	for _, it := range items {
		row := EvidenceRow{Campaign: c.ID, CampaignName: c.Name, Scope: scopeText(c.Scope), StartedBy: c.CreatedBy, StartedAt: c.CreatedAt, Deadline: c.Deadline,
			Item: it.ID, Identity: it.Identity, Email: it.Email, App: it.App, Entitlement: it.Entitlement, Risk: it.Risk.String(),
			Reviewer: it.Reviewer, ReviewerRole: it.ReviewerRole, EscalatedFrom: it.EscalatedFrom, Decision: string(it.Decision),
			Reason: it.Reason, DecidedBy: it.DecidedBy, DecidedAt: it.DecidedAt, RunID: it.RunID}
		if row.Decision == "" {
			row.Decision = "pending"
		}
		if it.RunID != "" {
			st, ok := status[it.RunID]
			if !ok {
				if run, err := r.DB.GetRun(it.RunID); err == nil {
					st = string(run.Status)
				} else {
					st = "unknown"
				}
				status[it.RunID] = st
			}
			row.RunStatus = st
		}
		out = append(out, row)
	}
	return out, nil
}

// WriteEvidence writes a campaign's evidence as "csv" or "jsonl".
func (r *Reviews) WriteEvidence(w io.Writer, campaignID, format string) error {
	rows, err := r.Evidence(campaignID)
	if err != nil {
		return err
	}
	switch format {
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, row := range rows {
			if err := enc.Encode(row); err != nil {
				return fmt.Errorf("write evidence: %w", err)
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(EvidenceColumns); err != nil {
			return fmt.Errorf("write evidence: %w", err)
		}
		for _, x := range rows {
			rec := []string{x.Campaign, x.CampaignName, x.Scope, x.StartedBy, stamp(x.StartedAt), stamp(x.Deadline), x.Item, x.Identity, x.Email, x.App,
				x.Entitlement, x.Risk, x.Reviewer, x.ReviewerRole, strings.Join(x.EscalatedFrom, ";"), x.Decision, x.Reason, x.DecidedBy, stamp(x.DecidedAt), x.RunID, x.RunStatus}
			for i := range rec {
				rec[i] = csvSafe(rec[i])
			}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write evidence: %w", err)
			}
		}
		cw.Flush()
		return cw.Error()
	}
	return fmt.Errorf("%w: format %q is not csv or jsonl", ErrBadRequest, format)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// csvSafe defuses spreadsheet formulas: a reason typed by a reviewer
// ("=HYPERLINK(…)") must not run when an auditor opens the file.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ReviewerProgress is a campaign's progress for one reviewer.
type ReviewerProgress struct {
	Reviewer string
	Total    int
	Pending  int
}

// Progress returns a campaign and its per-reviewer counts, most pending first.
func (r *Reviews) Progress(campaignID string) (gatehouse.Campaign, []ReviewerProgress, error) {
	c, err := r.Campaign(campaignID)
	if err != nil {
		return c, nil, err
	}
	items, err := r.DB.ReviewItems(campaignID)
	if err != nil {
		return c, nil, err
	}
	at := map[string]int{}
	var out []ReviewerProgress
	for _, it := range items {
		i, ok := at[it.Reviewer]
		if !ok {
			i = len(out)
			at[it.Reviewer] = i
			out = append(out, ReviewerProgress{Reviewer: it.Reviewer})
		}
		out[i].Total++
		if it.Pending() {
			out[i].Pending++
		}
	}
	sortProgress(out)
	return c, out, nil
}

func sortProgress(p []ReviewerProgress) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && (p[j].Pending > p[j-1].Pending || (p[j].Pending == p[j-1].Pending && p[j].Reviewer < p[j-1].Reviewer)); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// StartOptions are a campaign's settings as typed on the command line or
// in Slack: comma-separated lists, a risk name, a duration like "14d".
type StartOptions struct {
	Name, Apps, MinRisk, Team, Department, Deadline, Reviewers, OnDeadline string
}

// Request validates the options into a StartRequest by who.
func (o StartOptions) Request(by Actor) (StartRequest, error) {
	req := StartRequest{Name: strings.TrimSpace(o.Name), By: by, OnDeadline: strings.ToLower(strings.TrimSpace(o.OnDeadline)),
		Scope: gatehouse.ReviewScope{Apps: splitList(o.Apps), Team: strings.TrimSpace(o.Team), Department: strings.TrimSpace(o.Department)}}
	if o.MinRisk != "" {
		r, err := gatehouse.ParseRisk(strings.TrimSpace(o.MinRisk))
		if err != nil {
			return req, fmt.Errorf("%w: %v", ErrBadRequest, err)
		}
		req.Scope.MinRisk = r
	}
	if o.Deadline != "" {
		d, err := config.ParseDuration(o.Deadline)
		if err != nil || d <= 0 {
			return req, fmt.Errorf("%w: deadline %q is not a duration like 14d", ErrBadRequest, o.Deadline)
		}
		req.Deadline = d
	}
	for _, r := range splitList(o.Reviewers) {
		req.Reviewers = append(req.Reviewers, strings.ToLower(r))
	}
	return req, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
