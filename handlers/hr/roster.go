package hr

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// ---- Workday (RaaS) ----
//
// A custom report exposed as a web service, read with ?format=json by an
// integration user: {"Report_Entry": [{...}, ...]}. Polled only: no webhooks.

type workday struct {
	*base
	client *http.Client
}

func (s *workday) webhooks() bool { return false }

func (s *workday) authenticate(http.Header, []byte, time.Time) error {
	return unauthorized("workday has no webhooks")
}

func (s *workday) parse(string, []byte) (parsed, error) {
	return parsed{}, malformed("workday has no webhooks")
}

func (s *workday) roster(ctx context.Context) ([]Record, error) {
	u, err := url.Parse(s.c.RosterURL)
	if err != nil {
		return nil, fmt.Errorf("workday roster_url: %w", err)
	}
	q := u.Query()
	q.Set("format", "json")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("workday report: %w", err)
	}
	if s.c.APIUser != "" {
		pw, err := s.c.APIKey.Value()
		if err != nil {
			return nil, fmt.Errorf("source %s api_key: %w", s.n, err)
		}
		req.SetBasicAuth(s.c.APIUser, pw)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("workday report: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("workday report: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("workday report: %w", err)
	}
	return parseWorkdayReport(s.base, body)
}

// parseWorkdayReport reads a RaaS JSON report.
func parseWorkdayReport(b *base, body []byte) ([]Record, error) {
	var doc struct {
		Entries []json.RawMessage `json:"Report_Entry"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("workday report: %w", err)
	}
	if doc.Entries == nil {
		return nil, errors.New("workday report: no Report_Entry array")
	}
	out := make([]Record, 0, len(doc.Entries))
	for i, raw := range doc.Entries {
		fs, err := flatJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("workday report entry %d: %w", i, err)
		}
		out = append(out, b.mapFields(fs))
	}
	return out, nil
}

// ---- CSV roster ----

type csvSource struct{ *base }

func (s *csvSource) webhooks() bool { return false }

func (s *csvSource) authenticate(http.Header, []byte, time.Time) error {
	return unauthorized("a csv source has no webhooks")
}

func (s *csvSource) parse(string, []byte) (parsed, error) {
	return parsed{}, malformed("a csv source has no webhooks")
}

func (s *csvSource) roster(context.Context) ([]Record, error) {
	f, err := os.Open(s.c.File)
	if err != nil {
		return nil, fmt.Errorf("csv roster: %w", err)
	}
	defer f.Close()
	return parseCSVRoster(s.base, f)
}

// parseCSVRoster reads a header row then one person per row. Column names
// are matched by the mapping (default: Gatehouse field names).
func parseCSVRoster(b *base, r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("csv roster header: %w", err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	var out []Record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("csv roster: %w", err)
		}
		fs := make(fieldSet, len(header))
		for i, h := range header {
			if i < len(row) {
				fs[h] = row[i]
			}
		}
		rec := b.mapFields(fs)
		if rec.EmployeeID == "" && rec.Email == "" {
			continue // blank or comment-like rows
		}
		out = append(out, rec)
	}
}
