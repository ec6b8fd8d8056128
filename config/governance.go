package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/robfig/cron/v3"
)

// GovernanceConfig configures continuous governance: the weekly digest of
// dormant access, orphaned accounts, open leavers, held SoD conflicts,
// expiring access, owner-less non-humans and reclaimable licence money.
type GovernanceConfig struct {
	Digest  DigestConfig  `yaml:"digest"`
	Reviews ReviewsConfig `yaml:"reviews"`
}

// ReviewsConfig holds the defaults of access review campaigns; `gatehouse
// review start` and `/access review start` may override each per campaign.
// Reminders and escalations reuse approvals.remind_after and
// approvals.escalate_after.
type ReviewsConfig struct {
	// Deadline is how long reviewers have (default 14d).
	Deadline time.Duration `yaml:"deadline"`
	// OnDeadline is what happens to undecided items at the deadline:
	// "revoke", "keep" or "escalate" (default: hand them to IT).
	OnDeadline string `yaml:"on_deadline"`
	// Reviewers are the roles that review, in order: "manager" (default)
	// and/or "app_owner".
	Reviewers []string `yaml:"reviewers"`
	// Channel is where campaign progress is posted (default admins.it_channel).
	Channel string `yaml:"channel"`
}

// ReviewDeadlineActions and ReviewerRoles are the accepted values.
var (
	ReviewDeadlineActions = []string{gatehouse.OnDeadlineRevoke, gatehouse.OnDeadlineKeep, gatehouse.OnDeadlineEscalate}
	ReviewerRoles         = []string{gatehouse.ReviewerManager, gatehouse.ReviewerAppOwner}
)

// DigestConfig configures the digest posted to the IT channel.
type DigestConfig struct {
	// Disabled turns the scheduled digest off (`gatehouse digest` still works).
	Disabled bool `yaml:"disabled"`
	// Schedule is a 5-field cron expression in the organization's time zone
	// (default "0 9 * * MON": Mondays at 09:00).
	Schedule string `yaml:"schedule"`
	// Channel is where the digest goes (default admins.it_channel).
	Channel string `yaml:"channel"`
	// DormantAfter is how long an account may go unused before it is listed
	// (default 45d); apps override it with their own dormant_after.
	DormantAfter time.Duration `yaml:"dormant_after"`
	// ExpiringWithin is how far ahead expiring access is listed (default 7d).
	ExpiringWithin time.Duration `yaml:"expiring_within"`
	// TaskOverdueAfter is when an open manual task counts as overdue
	// (default: approvals.escalate_after, else 72h).
	TaskOverdueAfter time.Duration `yaml:"task_overdue_after"`
	// MaxSnooze caps how long a Keep may hide an item (default 180d).
	MaxSnooze time.Duration `yaml:"max_snooze"`
	// MaxItems caps the lines per section posted to Slack (default 100); the
	// rest are counted, and `gatehouse digest --dry-run` lists them all.
	MaxItems int `yaml:"max_items"`
}

// DefaultDigestSchedule is Monday 09:00 in the organization's zone.
const DefaultDigestSchedule = "0 9 * * MON"

// Day is 24 hours, the unit of the "d" duration suffix.
const Day = 24 * time.Hour

// ParseDuration is time.ParseDuration that also accepts whole days ("45d",
// "1d12h"), since governance periods are written in days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		days, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d := time.Duration(days) * Day
		if rest := s[i+1:]; rest != "" {
			r, err := time.ParseDuration(rest)
			if err != nil || r < 0 {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			d += r
		}
		return d, nil
	}
	return time.ParseDuration(s)
}

// CronParser parses the 5-field schedules the config uses.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

func (c *Config) validateGovernance(errs *ErrorList) {
	d := &c.Governance.Digest
	if d.Schedule == "" {
		d.Schedule = DefaultDigestSchedule
	}
	if _, err := CronParser.Parse(d.Schedule); err != nil {
		c.add(errs, "governance.digest.schedule", "%q is not a 5-field cron expression (e.g. %q): %v", d.Schedule, DefaultDigestSchedule, err)
	}
	if d.Channel == "" {
		d.Channel = c.Admins.ITChannel
	}
	if d.Channel == "" && !d.Disabled {
		c.Warnings.Add(c.posOf("governance"), "governance.digest.channel", "no channel for the weekly digest (set governance.digest.channel or admins.it_channel); it is computed but not posted")
	}
	if d.DormantAfter == 0 {
		d.DormantAfter = 45 * Day
	}
	if d.ExpiringWithin == 0 {
		d.ExpiringWithin = 7 * Day
	}
	if d.TaskOverdueAfter == 0 {
		d.TaskOverdueAfter = c.Approvals.EscalateAfter
		if d.TaskOverdueAfter == 0 {
			d.TaskOverdueAfter = 72 * time.Hour
		}
	}
	if d.MaxSnooze == 0 {
		d.MaxSnooze = 180 * Day
	}
	if d.MaxItems == 0 {
		d.MaxItems = 100
	}
	if d.MaxItems < 0 {
		c.add(errs, "governance.digest.max_items", "must not be negative")
	}
	for _, p := range []struct {
		key string
		v   time.Duration
	}{{"dormant_after", d.DormantAfter}, {"expiring_within", d.ExpiringWithin}, {"max_snooze", d.MaxSnooze}} {
		if p.v < Day {
			c.add(errs, "governance.digest."+p.key, "must be at least 1d")
		}
	}
	c.validateReviews(errs)
	for _, name := range c.AppNames() {
		if a := c.Apps[name]; a.DormantAfter != 0 && a.DormantAfter < Day {
			c.add(errs, "apps."+name+".dormant_after", "must be at least 1d (or omitted for governance.digest.dormant_after)")
		}
	}
}

// DormantAfter is the dormancy threshold of app: its own, else the digest's.
func (c *Config) DormantAfter(app string) time.Duration {
	if a := c.Apps[app]; a != nil && a.DormantAfter > 0 {
		return a.DormantAfter
	}
	return c.Governance.Digest.DormantAfter
}

func (c *Config) validateReviews(errs *ErrorList) {
	r := &c.Governance.Reviews
	if r.Deadline == 0 {
		r.Deadline = 14 * Day
	}
	if r.Deadline < Day {
		c.add(errs, "governance.reviews.deadline", "must be at least 1d")
	}
	if r.OnDeadline == "" {
		r.OnDeadline = gatehouse.OnDeadlineEscalate
	}
	if !slices.Contains(ReviewDeadlineActions, r.OnDeadline) {
		c.add(errs, "governance.reviews.on_deadline", "%q is not one of %s", r.OnDeadline, strings.Join(ReviewDeadlineActions, ", "))
	}
	if len(r.Reviewers) == 0 {
		r.Reviewers = []string{gatehouse.ReviewerManager}
	}
	for i, role := range r.Reviewers {
		if !slices.Contains(ReviewerRoles, role) {
			c.add(errs, fmt.Sprintf("governance.reviews.reviewers[%d]", i), "%q is not one of %s", role, strings.Join(ReviewerRoles, ", "))
		}
	}
	if r.Channel == "" {
		r.Channel = c.Admins.ITChannel
	}
}
