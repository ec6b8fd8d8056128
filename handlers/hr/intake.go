package hr

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// Job kinds the intake owns in the store's job queue.
const (
	JobDelivery = "hr.delivery" // a verified webhook delivery waiting to be processed
	JobDead     = "hr.dead"     // a delivery that kept failing, kept for inspection
)

// delivery is what the inbox records: the raw verified body and enough to
// process it later, after a restart if need be.
type delivery struct {
	Source      string    `json:"source"`
	Key         string    `json:"key"` // dedupe key: vendor delivery id or content hash
	ContentType string    `json:"content_type,omitempty"`
	ReceivedAt  time.Time `json:"received_at"`
	Body        []byte    `json:"body"`
	Attempts    int       `json:"attempts,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	ttl         time.Duration
}

// serveHTTP verifies, records and acknowledges one webhook delivery. The
// order is the invariant: authenticate, check shape, record durably, only
// then answer 2xx; processing happens in the worker.
func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	src, ok := s.byPath[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	log := s.log.With().Str("source", src.name()).Str("remote", remoteIP(r)).Logger()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := readBody(w, r, s.hr.BodyLimit)
	if err != nil {
		s.refuse(w, log, err)
		return
	}
	now := s.now()
	if err := src.authenticate(r.Header, body, now); err != nil {
		s.refuse(w, log, err)
		return
	}
	p, err := src.parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		s.refuse(w, log, err)
		return
	}
	if p.Ping {
		log.Info().Msg("hr webhook ping answered")
		writeJSON(w, http.StatusOK, `{"status":"ok"}`)
		return
	}
	// Vendors without a signed timestamp header still date their bodies:
	// refuse what is older than dedupe memory, since a replay of it could no
	// longer be recognized.
	if !p.OccurredAt.IsZero() && now.Sub(p.OccurredAt) > s.hr.DedupeTTL {
		s.refuse(w, log, unauthorized("delivery dated %s is older than dedupe_ttl %s: replay refused", p.OccurredAt.UTC().Format(time.RFC3339), s.hr.DedupeTTL))
		return
	}
	key, ttl := dedupeKey(src, p, r.Header, body, s.hr.DedupeTTL)
	d := delivery{Source: src.name(), Key: key, ContentType: r.Header.Get("Content-Type"), ReceivedAt: now, Body: body, ttl: ttl}
	dup, err := s.recordWithin(d, recordTimeout)
	if err != nil {
		log.Error().Err(err).Msg("hr webhook not recorded; asking the sender to retry")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if dup {
		log.Info().Str("key", key).Msg("hr webhook duplicate ignored")
		writeJSON(w, http.StatusOK, `{"status":"duplicate"}`)
		return
	}
	s.kickWorker()
	log.Debug().Str("key", key).Int("deltas", len(p.Deltas)).Msg("hr webhook recorded")
	writeJSON(w, http.StatusAccepted, `{"status":"accepted"}`)
}

// recordTimeout keeps the answer inside the vendors' 3-second budget.
const recordTimeout = 2500 * time.Millisecond

// recordWithin records d, giving up after timeout. A write that completes
// after the 503 is harmless: the vendor's retry is then a duplicate (200), or
// records a second copy whose events carry the same dedupe keys.
func (s *Service) recordWithin(d delivery, timeout time.Duration) (bool, error) {
	type result struct {
		dup bool
		err error
	}
	ch := make(chan result, 1)
	go func() {
		dup, err := s.record(d)
		ch <- result{dup, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r.dup, r.err
	case <-t.C:
		return false, fmt.Errorf("recording took longer than %s", timeout)
	}
}

// shortDedupeTTL is how long an undated, id-less body is remembered: long
// enough to absorb a sender's immediate retries, short enough that the same
// body sent again later as a genuinely new event (A→B→A) is not swallowed.
// Processing is idempotent by state anyway; this only saves work.
const shortDedupeTTL = 10 * time.Minute

// dedupeKey names a delivery for deduplication: the vendor's delivery id;
// else a hash of a body the vendor dated (unique per event); else a hash of
// the body and its signed timestamp; else a hash of the body, remembered
// briefly.
func dedupeKey(src source, p parsed, h http.Header, body []byte, ttl time.Duration) (string, time.Duration) {
	prefix := src.name() + ":"
	if p.DeliveryID != "" {
		return prefix + "id:" + p.DeliveryID, ttl
	}
	sum := sha256.New()
	sum.Write(body)
	if g, ok := src.(*generic); ok && g.g.TimestampHeader != "" {
		sum.Write([]byte{0})
		sum.Write([]byte(h.Get(g.g.TimestampHeader)))
		return prefix + "sha256:" + hex.EncodeToString(sum.Sum(nil)), ttl
	}
	key := prefix + "sha256:" + hex.EncodeToString(sum.Sum(nil))
	if p.OccurredAt.IsZero() {
		return key, min(ttl, shortDedupeTTL)
	}
	return key, ttl
}

// record writes the delivery to the inbox, then marks its key seen. The job
// comes first: a crash between the two leaves a job and no mark, so the
// vendor's retry is recorded again and processed twice, which the events'
// dedupe keys make harmless; the other order could lose the delivery. A
// duplicate removes the job it just wrote (its own, by unique id).
func (s *Service) record(d delivery) (dup bool, err error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return false, fmt.Errorf("encode delivery: %w", err)
	}
	id := "hr.inbox/" + strconv.FormatInt(d.ReceivedAt.UnixNano(), 36) + "-" + randomID()
	if err := s.st.ScheduleJob(store.Job{ID: id, Kind: JobDelivery, At: d.ReceivedAt, Payload: raw}); err != nil {
		return false, fmt.Errorf("record delivery: %w", err)
	}
	ttl := d.ttl
	if ttl <= 0 {
		ttl = s.hr.DedupeTTL
	}
	seen, err := s.st.MarkSeen("hr:"+d.Key, ttl)
	if err != nil {
		// The job is recorded: processing it is safe (dedupe keys), so
		// accept rather than make the vendor retry into a duplicate.
		s.log.Warn().Err(err).Msg("hr webhook dedupe mark failed; processing anyway")
		return false, nil
	}
	if seen {
		if err := s.st.DeleteJob(id); err != nil {
			return true, fmt.Errorf("drop duplicate delivery: %w", err)
		}
	}
	return seen, nil
}

func (s *Service) refuse(w http.ResponseWriter, log zerolog.Logger, err error) {
	code := statusOf(err)
	var rj *rejection
	reason := err.Error()
	if errors.As(err, &rj) {
		reason = rj.reason
	}
	log.Warn().Int("status", code).Str("reason", reason).Msg("hr webhook refused")
	if code == http.StatusRequestEntityTooLarge {
		// The documented answer: a JSON error naming the limit (no secret
		// in it), so a vendor's delivery log says what to change.
		msg, _ := json.Marshal(map[string]string{"error": "request body too large", "detail": reason})
		writeJSON(w, code, string(msg))
		return
	}
	http.Error(w, http.StatusText(code), code)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// maxDiscard bounds how much of an oversized body is read and thrown away
// before the 413 is sent. Answering while the client is still sending, and
// closing with its bytes unread, makes the kernel reset the connection: the
// client sees "connection reset" instead of the documented 413. Beyond this
// bound the connection is closed anyway (a client sending that much is not
// a webhook).
const maxDiscard = 32 << 20

// readBody reads at most limit bytes; more is 413, after reading (and
// discarding) the rest of the body up to maxDiscard so the client receives
// the answer.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		discard(w, r.Body)
		return nil, reject(http.StatusRequestEntityTooLarge, "body of %d bytes exceeds body_limit %d", r.ContentLength, limit)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, malformed("read body: %v", err)
	}
	if int64(len(b)) > limit {
		discard(w, r.Body)
		return nil, reject(http.StatusRequestEntityTooLarge, "body exceeds body_limit %d", limit)
	}
	if len(b) == 0 {
		return nil, malformed("empty body")
	}
	return b, nil
}

// discard drains an unwanted body up to maxDiscard. The connection is not
// reused after an oversized request.
func discard(w http.ResponseWriter, body io.Reader) {
	w.Header().Set("Connection", "close")
	_, _ = io.CopyN(io.Discard, body, maxDiscard)
}

func remoteIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ---- the worker draining the inbox ----

const (
	maxAttempts  = 12
	retryBase    = 5 * time.Second
	retryMax     = time.Hour
	pollInterval = time.Second
)

func (s *Service) kickWorker() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// worker processes recorded deliveries in arrival order until ctx ends. On
// start it drains whatever a previous process recorded but did not finish.
func (s *Service) worker(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		if err := s.Drain(ctx); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Msg("hr inbox drain failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-t.C:
		}
	}
}

// Drain processes every due delivery once. Deliveries that fail are
// rescheduled with backoff; after maxAttempts they are parked as hr.dead.
func (s *Service) Drain(ctx context.Context) error {
	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	jobs, err := s.st.DueJobs(s.now(), 0)
	if err != nil {
		return fmt.Errorf("read hr inbox: %w", err)
	}
	for _, j := range jobs {
		if j.Kind != JobDelivery {
			continue // other packages' jobs share the queue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.processJob(ctx, j)
	}
	return nil
}

func (s *Service) processJob(ctx context.Context, j store.Job) {
	var d delivery
	if err := json.Unmarshal(j.Payload, &d); err != nil {
		s.log.Error().Err(err).Str("job", j.ID).Msg("hr inbox job undecodable; parking it")
		s.park(j, d, err)
		return
	}
	log := s.log.With().Str("source", d.Source).Str("key", d.Key).Logger()
	err := s.processDelivery(ctx, d)
	if err == nil {
		if err := s.st.DeleteJob(j.ID); err != nil {
			log.Error().Err(err).Msg("hr delivery processed but not removed from inbox; it will be processed again (harmless)")
		}
		return
	}
	if ctx.Err() != nil {
		return // shutting down: the job stays for the next start
	}
	d.Attempts++
	d.LastError = err.Error()
	if d.Attempts >= maxAttempts {
		log.Error().Err(err).Int("attempts", d.Attempts).Msg("hr delivery failed repeatedly; parked for inspection")
		s.park(j, d, err)
		return
	}
	wait := min(retryBase<<(d.Attempts-1), retryMax)
	raw, _ := json.Marshal(d)
	log.Warn().Err(err).Int("attempt", d.Attempts).Dur("retry_in", wait).Msg("hr delivery failed; will retry")
	if err := s.st.ScheduleJob(store.Job{ID: j.ID, Kind: JobDelivery, At: s.now().Add(wait), Payload: raw}); err != nil {
		log.Error().Err(err).Msg("hr delivery retry not scheduled; it stays due")
	}
}

// park moves a failing delivery out of the due range, keeping its body for
// an operator (hr.dead jobs sit far in the future and are never run).
func (s *Service) park(j store.Job, d delivery, cause error) {
	d.LastError = cause.Error()
	raw, err := json.Marshal(d)
	if err != nil {
		raw = j.Payload
	}
	if err := s.st.ScheduleJob(store.Job{ID: "hr.dead/" + j.ID, Kind: JobDead, At: guardJobAt, Payload: raw}); err != nil {
		s.log.Error().Err(err).Msg("park hr delivery")
		return
	}
	if err := s.st.DeleteJob(j.ID); err != nil {
		s.log.Error().Err(err).Msg("remove parked hr delivery")
	}
}

// processDelivery parses a recorded delivery again and applies its deltas.
func (s *Service) processDelivery(ctx context.Context, d delivery) error {
	src, ok := s.sources[d.Source]
	if !ok {
		return fmt.Errorf("source %q is no longer configured", d.Source)
	}
	p, err := src.parse(d.ContentType, d.Body)
	if err != nil {
		return fmt.Errorf("parse recorded delivery: %w", err)
	}
	for i, dl := range p.Deltas {
		if err := s.applyDelta(ctx, src, dl, d.Key, i); err != nil {
			return err
		}
	}
	return nil
}
