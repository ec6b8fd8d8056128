package hr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/config"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// Options wire a Service.
type Options struct {
	// Config is the whole config: the hr section, organization.time_zone
	// (default zone) and admins.it_channel (default notification channel).
	Config    *config.Config
	Store     Store
	Submitter Submitter // nil: plan only (dry runs)
	Notifier  Notifier  // nil: NopNotifier
	Logger    zerolog.Logger
	Now       func() time.Time
	// HTTPClient talks to vendor APIs (default: a client with a 15s timeout).
	HTTPClient *http.Client
	// Observer counts webhook deliveries by vendor and outcome (nil: none).
	Observer Observer
}

// Service is the HR intake: the webhook handler with its durable inbox and
// worker, the scheduled directory sync and the mass-change guard. serve
// builds one with New, mounts Handler (or lets Start listen on hr.listen),
// and calls Start and Close.
type Service struct {
	hr       config.HRConfig
	cfg      *config.Config
	st       Store
	sub      Submitter
	notify   Notifier
	log      zerolog.Logger
	now      func() time.Time
	guard    *Guard
	obs      Observer
	sources  map[string]source
	byPath   map[string]source
	kick     chan struct{}
	drainMu  sync.Mutex // one drain at a time: deliveries apply in order
	submitMu sync.Mutex // a sync and the worker do not interleave guard+submit

	countMu    sync.Mutex
	countAt    time.Time
	countValue int

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	srv     *http.Server
	ln      net.Listener
	cron    *cron.Cron
}

// New builds the service: resolves every source, compiles the generic
// webhooks' expressions (errors come back as a config.ErrorList with
// positions) and loads the guard's window.
func New(opts Options) (*Service, error) {
	if opts.Config == nil || opts.Store == nil {
		return nil, errors.New("hr: config and store are required")
	}
	s := &Service{
		hr:      opts.Config.HR.WithDefaults(),
		cfg:     opts.Config,
		st:      opts.Store,
		sub:     opts.Submitter,
		notify:  opts.Notifier,
		log:     opts.Logger.With().Str("component", "hr").Logger(),
		now:     opts.Now,
		sources: map[string]source{},
		byPath:  map[string]source{},
		kick:    make(chan struct{}, 1),
		obs:     opts.Observer,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.notify == nil {
		s.notify = NopNotifier{}
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	var errs config.ErrorList
	for _, name := range s.hr.SourceNames() {
		sc := s.hr.Sources[name]
		src, el := newSource(name, sc, s, client)
		errs = append(errs, el...)
		if src == nil {
			continue
		}
		s.sources[name] = src
		if src.webhooks() {
			s.byPath[sc.WebhookPath()] = src
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	g, err := NewGuard(s.hr.Guard, s.st)
	if err != nil {
		if g == nil {
			return nil, err
		}
		s.log.Warn().Err(err).Msg("mass-change guard window reset")
	}
	s.guard = g
	return s, nil
}

// CheckConfig compiles the HR section's expressions without a store, for
// `gatehouse check`: every error located at file:line:col.
func CheckConfig(cfg *config.Config) config.ErrorList {
	var errs config.ErrorList
	hr := cfg.HR.WithDefaults()
	for _, name := range hr.SourceNames() {
		if sc := hr.Sources[name]; sc.Vendor == config.VendorGeneric && sc.Generic != nil {
			_, el := compileGeneric(sc.Generic)
			errs = append(errs, el...)
		}
	}
	return errs
}

// Handler returns the webhook handler, for serve to mount on its own mux.
func (s *Service) Handler() http.Handler { return s }

// Start runs the inbox worker (which first processes whatever an earlier
// process recorded), the cron-scheduled sync, and, when hr.listen is set, the
// HTTP listener. It returns once the listener is bound.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("hr: already started")
	}
	if s.hr.Listen != "" {
		ln, err := net.Listen("tcp", s.hr.Listen)
		if err != nil {
			return fmt.Errorf("hr: listen on %s: %w", s.hr.Listen, err)
		}
		s.ln = ln
		s.srv = &http.Server{
			Handler:           s,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error().Err(err).Msg("hr listener stopped")
			}
		}()
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Add(1)
	go s.worker(wctx, &s.wg)
	if s.hr.Sync.Schedule != "" {
		c := cron.New(cron.WithLocation(s.cfg.Location()))
		_, err := c.AddFunc(s.hr.Sync.Schedule, func() {
			for _, name := range s.syncSources() {
				rep, err := s.Sync(wctx, name, false)
				if err != nil {
					s.log.Error().Err(err).Str("source", name).Msg("scheduled hr sync failed")
					continue
				}
				s.log.Info().Str("source", name).Int("joiners", len(rep.Joiners)).Int("movers", len(rep.Movers)).
					Int("leavers", len(rep.Leavers)).Int("ambiguous", len(rep.Ambiguous)).Bool("held", rep.Held).Msg("scheduled hr sync done")
			}
		})
		if err != nil {
			cancel()
			s.closeListener()
			return fmt.Errorf("hr: sync schedule %q: %w", s.hr.Sync.Schedule, err)
		}
		s.cron = c
		c.Start()
	}
	s.started = true
	return nil
}

// startListenerOnly binds and serves hr.listen without the worker or the
// scheduler (benchmarks measure intake alone).
func (s *Service) startListenerOnly() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ln, err := net.Listen("tcp", s.hr.Listen)
	if err != nil {
		return fmt.Errorf("hr: listen on %s: %w", s.hr.Listen, err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(ln)
	}()
	s.cancel = func() {}
	s.started = true
	return nil
}

// Addr is the bound listener address ("" when not listening).
func (s *Service) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

func (s *Service) closeListener() {
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(ctx)
	} else if s.ln != nil {
		_ = s.ln.Close()
	}
}

// Close stops accepting deliveries (in-flight ones finish recording), stops
// the scheduler and the worker, and waits for them. Recorded deliveries not
// yet processed stay in the inbox for the next Start.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	s.started = false
	s.closeListener()
	// Cancel first so a sync in flight stops at its next vendor call
	// instead of holding Close up.
	s.cancel()
	if s.cron != nil {
		<-s.cron.Stop().Done()
	}
	s.wg.Wait()
	return nil
}

func (s *Service) syncSources() []string {
	if len(s.hr.Sync.Sources) > 0 {
		return s.hr.Sync.Sources
	}
	var out []string
	for name, src := range s.sources {
		if src.cfg().Roster != "" || src.cfg().Vendor == config.VendorWorkday || src.cfg().Vendor == config.VendorCSV {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// identityCount is the share denominator for the guard, cached for a
// minute so webhooks do not walk the table each time.
func (s *Service) identityCount() int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	if now := s.now(); s.countAt.IsZero() || now.Sub(s.countAt) > time.Minute {
		n := 0
		if err := s.st.EachIdentity(func(gatehouse.Identity) error { n++; return nil }); err == nil {
			s.countValue, s.countAt = n, now
		}
	}
	return s.countValue
}

func (s *Service) planner(src source) *Planner {
	loc := s.cfg.Location()
	if tz := src.cfg().TimeZone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	return &Planner{Source: src.name(), Timing: Timing{JoinerLead: s.hr.JoinerLeadTime, EndOfDay: s.hr.TerminationAt != "start_of_day", Zone: loc}}
}

// applyDelta turns one webhook delta into a change and applies it.
func (s *Service) applyDelta(ctx context.Context, src source, dl Delta, deliveryKey string, idx int) error {
	if dl.Action == ActionIgnore {
		return nil
	}
	rec := dl.Record
	rec.Source = src.name()
	fetched := false
	if dl.FetchID != "" {
		full, err := src.fetch(ctx, dl.FetchID)
		switch {
		case errors.Is(err, errNoAPI):
			// Webhook data only: merge what it carries.
		case errors.Is(err, errGone) && (dl.Action == ActionDelete || dl.Action == ActionTerminate):
			// Gone from the HR system: the delta alone decides.
		case errors.Is(err, errGone):
			s.log.Info().Str("source", src.name()).Str("delivery", deliveryKey).Msg("hr person no longer exists at the vendor; nothing to apply")
			return nil
		case err != nil:
			return fmt.Errorf("fetch %s person: %w", src.cfg().Vendor, err)
		default:
			full.Source = src.name()
			rec = mergeRecords(full, rec)
			fetched = full.Status != StatusUnknown
		}
	}
	switch dl.Action {
	case ActionTerminate, ActionDelete:
		// The vendor's current record is the better witness (Rippling's
		// "deleted" also means "no longer provisioned to this app"; a future
		// termination still reads active with its date): only without it
		// does the event alone terminate.
		if !fetched {
			rec.Status = StatusTerminated
		}
	case ActionLeave:
		rec.Status = StatusLeave
	case ActionReturn:
		if rec.Status == StatusLeave || rec.Status == StatusUnknown {
			rec.Status = StatusActive
		}
	}
	rec.normalize()
	if rec.ManagerEmail == "" && rec.ManagerID != "" {
		if m, err := s.st.IdentityByEmployeeID(rec.ManagerID); err == nil {
			rec.ManagerEmail = m.Email
		}
	}
	if rec.EmployeeID == "" && rec.Email == "" {
		s.log.Warn().Str("source", src.name()).Str("delivery", deliveryKey).Msg("hr delta names nobody Gatehouse can match (no employee id or email); ignored")
		return nil
	}
	s.submitMu.Lock()
	defer s.submitMu.Unlock()
	prev, amb, err := match(storeLookup{s.st}, rec)
	if err != nil {
		return fmt.Errorf("match %s: %w", rec.MatchKey(), err)
	}
	if amb != nil {
		s.ambiguous(ctx, *amb)
		return nil
	}
	if prev == nil && rec.Email == "" {
		// An update about someone we do not know that does not even carry an
		// email cannot make a joiner: the sync will pick them up.
		s.log.Info().Str("source", src.name()).Str("person", rec.MatchKey()).Msg("partial hr update for an unknown person; left to the sync")
		return nil
	}
	ch := s.planner(src).Plan(prev, rec, s.now())
	_, err = s.applyChanges(ctx, src.name(), "webhook", []Change{ch})
	return err
}

// mergeRecords lays the webhook's own values over the fetched record (the
// webhook's say on status wins only when it is explicit).
func mergeRecords(full, hook Record) Record {
	out := full
	if hook.Status != StatusUnknown {
		out.Status = hook.Status
	}
	if !hook.TerminationDate.IsZero() {
		out.TerminationDate = hook.TerminationDate
	}
	if out.EmployeeID == "" {
		out.EmployeeID = hook.EmployeeID
	}
	if out.VendorID == "" {
		out.VendorID = hook.VendorID
	}
	return out
}

func (s *Service) ambiguous(ctx context.Context, a Ambiguity) {
	// Tell IT once a day per ambiguity, not on every sync and retry.
	key := "hr:ambiguous:" + a.Source + ":" + shortHash(a.EmployeeID+"|"+a.Email+"|"+strings.Join(a.Candidates, ","))
	if seen, err := s.st.MarkSeen(key, 24*time.Hour); err == nil && seen {
		return
	}
	s.log.Warn().Str("source", a.Source).Str("employee_id", a.EmployeeID).Strs("candidates", a.Candidates).
		Str("reason", a.Reason).Msg("ambiguous hr match flagged to IT; nothing changed")
	if err := s.notify.AmbiguousMatch(ctx, a); err != nil {
		s.log.Error().Err(err).Msg("notify ambiguous hr match")
	}
}

// logKey names an identity in logs without PII: its key when that is an
// employee id or an explicit id, a hash when the key is the email.
func logKey(id gatehouse.Identity) string {
	k := id.Key()
	if strings.Contains(k, "@") {
		return "email-sha256:" + shortHash(k)
	}
	return k
}

// NotifyChannel is the Slack channel HR notifications to IT go to:
// hr.notify_channel, else admins.it_channel.
func (s *Service) NotifyChannel() string {
	if s.hr.NotifyChannel != "" {
		return s.hr.NotifyChannel
	}
	return s.cfg.Admins.ITChannel
}

// Outcome is what applying a change did.
type Outcome struct {
	Change  Change
	Runs    []gatehouse.Run
	Created []bool
	Held    bool
	Err     string // the engine rejected an event of this change (bad HR data)
}

// applyChanges runs the guard over the batch's leavers and movers, submits
// every event (held ones with a hold reason), stores the identities of the
// changes that were not held, and notifies. Submission comes before storing:
// if storing fails the retry re-detects the change and the dedupe keys give
// back the same runs.
func (s *Service) applyChanges(ctx context.Context, source, origin string, changes []Change) ([]Outcome, error) {
	var keys []string
	leavers, movers := 0, 0
	for _, c := range changes {
		for _, e := range c.Events {
			switch e.Type {
			case gatehouse.EventLeaver:
				leavers++
				keys = append(keys, e.DedupeKey)
			case gatehouse.EventMover:
				movers++
				keys = append(keys, e.DedupeKey)
			}
		}
	}
	now := s.now()
	var adm Admission
	if len(keys) > 0 {
		var err error
		if adm, err = s.guard.Admit(keys, s.identityCount(), now); err != nil {
			return nil, err
		}
	}
	holdReason := ""
	if adm.Hold {
		holdReason = fmt.Sprintf("mass-change guard: %d terminations/moves from HR within %s (limit %d people or %.0f%% of identities); confirm or discard",
			adm.InWindow, s.hr.Guard.Window, s.hr.Guard.MaxPeople, s.hr.Guard.MaxShare*100)
	}
	out := make([]Outcome, 0, len(changes))
	var heldRuns []string
	for _, c := range changes {
		o := Outcome{Change: c, Held: adm.Hold && c.Removes()}
		for _, e := range c.Events {
			if s.sub == nil {
				continue
			}
			reason := ""
			if o.Held && (e.Type == gatehouse.EventLeaver || e.Type == gatehouse.EventMover) {
				reason = holdReason
			}
			run, created, err := s.sub.Submit(ctx, e, reason)
			if errors.Is(err, ErrRejected) {
				// Bad data for this person only: report it, keep going with
				// the others, and do not store what the engine refused.
				s.log.Error().Err(err).Str("source", source).Str("event", string(e.Type)).Str("identity", logKey(c.Next)).Msg("hr event rejected; fix the record in the HR system")
				o.Err = err.Error()
				continue
			}
			if err != nil {
				return out, fmt.Errorf("submit %s for %s: %w", e.Type, logKey(c.Next), err)
			}
			o.Runs, o.Created = append(o.Runs, run), append(o.Created, created)
			// Only runs actually waiting for IT are worth asking about: a
			// re-detected change whose run IT already discarded is not.
			if reason != "" && run.Status == gatehouse.RunHeld {
				heldRuns = append(heldRuns, run.ID)
			}
			s.log.Info().Str("source", source).Str("origin", origin).Str("event", string(e.Type)).Str("identity", logKey(c.Next)).
				Str("run", run.ID).Bool("created", created).Bool("held", reason != "").Time("effective_at", e.EffectiveAt).Msg("hr event submitted")
			if created && reason == "" {
				s.notifyEvent(ctx, e, run)
			}
		}
		if s.sub != nil && o.Err == "" {
			s.withdraw(ctx, source, c)
		}
		if s.sub != nil && c.Store && !o.Held && o.Err == "" {
			if _, err := s.st.PutIdentity(c.Next); errors.Is(err, store.ErrConflict) {
				// The new email or employee id already belongs to someone
				// else: a person-level problem for IT, not a reason to stop.
				o.Err = err.Error()
				s.ambiguous(ctx, Ambiguity{Source: source, EmployeeID: c.Next.EmployeeID, Email: c.Next.Email,
					Reason: "the HR record's email or employee id already belongs to another identity", Candidates: []string{c.Next.Key()}})
			} else if err != nil {
				return out, fmt.Errorf("store identity %s: %w", logKey(c.Next), err)
			}
			s.countMu.Lock()
			s.countAt = time.Time{}
			s.countMu.Unlock()
		}
		out = append(out, o)
	}
	if adm.Hold && s.sub != nil {
		s.log.Warn().Str("source", source).Str("origin", origin).Int("in_window", adm.InWindow).Int("leavers", leavers).
			Int("movers", movers).Msg("mass-change guard holding hr runs for IT confirmation")
		if len(heldRuns) > 0 && (adm.FirstHit || origin == "sync") {
			mc := MassChange{Source: source, Origin: origin, Leavers: leavers, Movers: movers, Identities: s.identityCount(),
				InWindow: adm.InWindow, Window: s.hr.Guard.Window, RunIDs: heldRuns, Reason: holdReason}
			if err := s.notify.MassChangeHeld(ctx, mc); err != nil {
				s.log.Error().Err(err).Msg("notify mass change held")
			}
		}
	}
	return out, nil
}

// withdraw cancels the not-yet-started runs of events HR took back.
func (s *Service) withdraw(ctx context.Context, source string, c Change) {
	finder, ok1 := s.st.(interface {
		RunByDedupeKey(string) (gatehouse.Run, error)
	})
	canceller, ok2 := s.sub.(Canceller)
	for _, key := range c.Withdraw {
		if !ok1 || !ok2 {
			s.log.Warn().Str("identity", logKey(c.Next)).Msg("hr withdrew a termination; cancel its run by hand")
			return
		}
		run, err := finder.RunByDedupeKey(key)
		if err != nil {
			continue // never submitted (or held and discarded): nothing to cancel
		}
		switch run.Status {
		case gatehouse.RunScheduled, gatehouse.RunHeld, gatehouse.RunPending:
			if err := canceller.Cancel(ctx, run.ID, "hr:"+source); err != nil {
				s.log.Error().Err(err).Str("run", run.ID).Msg("cancel withdrawn hr termination")
				continue
			}
			s.log.Info().Str("run", run.ID).Str("identity", logKey(c.Next)).Msg("hr withdrew a termination; its run was cancelled")
		default:
			s.log.Warn().Str("run", run.ID).Str("status", string(run.Status)).Msg("hr withdrew a termination whose run already started; IT must reverse it")
		}
	}
}

func (s *Service) notifyEvent(ctx context.Context, e gatehouse.Event, run gatehouse.Run) {
	var err error
	switch e.Type {
	case gatehouse.EventJoiner, gatehouse.EventRehire:
		err = s.notify.NewHirePlanned(ctx, e.Identity, run)
	case gatehouse.EventLeaver:
		err = s.notify.TerminationReceived(ctx, e.Identity, e.EffectiveAt)
	}
	if err != nil {
		s.log.Error().Err(err).Str("event", string(e.Type)).Msg("hr notification failed")
	}
}
