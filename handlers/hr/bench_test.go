package hr

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse"
	"github.com/gatehousehq/gatehouse/store"
	"github.com/rs/zerolog"
)

// BenchmarkWebhookIntake posts signed BambooHR deliveries to a real loopback
// HTTP server backed by a real bbolt file with fsync on: every 2xx means the
// delivery is durable. Run with -cpu 2 for the 2-core figure.
func BenchmarkWebhookIntake(b *testing.B) {
	dir := b.TempDir()
	db, err := store.Open(filepath.Join(dir, "g.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc, err := New(Options{Config: loadConfig(b, webhookConfig), Store: db, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	cfg := loadConfig(b, "hr:\n  listen: 127.0.0.1:0\n"+webhookConfig[len("hr:\n"):])
	svc.hr.Listen = cfg.HR.Listen
	svc.sub = nil
	// Keep the worker out of the measurement: intake only.
	if err := svc.startListenerOnly(); err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	url := "http://" + svc.Addr() + "/hr/bamboo"
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var seq atomic.Int64
	var slow atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			now := time.Now()
			body := []byte(`{"type":"employee.updated","timestamp":"` + now.UTC().Format("2006-01-02T15:04:05-0700") + `","data":{"companyId":"12345","employeeId":"` + strconv.FormatInt(n, 10) + `","changedFields":["jobTitle"]}}`)
			ts := strconv.FormatInt(now.Unix(), 10)
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-BambooHR-Timestamp", ts)
			req.Header.Set("X-BambooHR-Signature", SignBambooHR("bamboo-secret", body, ts))
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			if time.Since(t0) > 3*time.Second {
				slow.Add(1)
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(slow.Load()), "over3s")
}

// BenchmarkSyncDiff10k diffs a 10,000-person roster against 10,000 stored
// identities (read from a real bbolt store each time, as a sync does): a
// few movers, joiners and leavers (19 movers, 50 joiners, 50 leavers).
func BenchmarkSyncDiff10k(b *testing.B) {
	const n = 10000
	db, err := store.Open(filepath.Join(b.TempDir(), "g.db"), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	done := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			_, err := db.PutIdentity(gatehouse.Identity{Kind: gatehouse.KindEmployee, Email: fmt.Sprintf("p%d@example.com", i), EmployeeID: strconv.Itoa(i),
				Name: "Person " + strconv.Itoa(i), Department: fmt.Sprintf("D%d", i%20), Title: "T", Status: gatehouse.StatusActive,
				Attributes: map[string]string{AttrSource: "people"}})
			done <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	records := make([]Record, 0, n)
	for i := 50; i < n+50; i++ { // 50 leavers, 50 joiners
		dept := fmt.Sprintf("D%d", i%20)
		if i%500 == 0 {
			dept = "Moved" // 20 movers
		}
		records = append(records, Record{EmployeeID: strconv.Itoa(i), Email: fmt.Sprintf("p%d@example.com", i), Name: "Person " + strconv.Itoa(i),
			Department: dept, Title: "T", Status: StatusActive})
	}
	p := &Planner{Source: "people", Timing: Timing{JoinerLead: 15 * time.Hour, EndOfDay: true, Zone: time.UTC}}
	now := time.Date(2026, 2, 2, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var stored []gatehouse.Identity
		if err := db.EachIdentity(func(id gatehouse.Identity) error { stored = append(stored, id); return nil }); err != nil {
			b.Fatal(err)
		}
		changes, ambs := Diff(p, records, stored, now)
		if len(changes) != 119 || len(ambs) != 0 {
			b.Fatalf("changes %d ambiguous %d", len(changes), len(ambs))
		}
	}
}

// BenchmarkInboxDrain measures how fast the worker applies recorded
// deliveries (generic joiners: parse, match, plan, submit, store the
// identity, delete the job) on a real bbolt file with fsync on.
func BenchmarkInboxDrain(b *testing.B) {
	db, err := store.Open(filepath.Join(b.TempDir(), "g.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sub := &recorder{}
	svc, err := New(Options{Config: loadConfig(b, webhookConfig), Store: db, Submitter: sub, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i := 0; i < b.N; i++ {
		body := []byte(fmt.Sprintf(`{"delivery":"b-%d","event":"hired","person":{"id":%d,"email":"p%d@example.com","name":"P"}}`, i, i, i))
		if _, err := svc.record(delivery{Source: "gen", Key: fmt.Sprintf("gen:id:b-%d", i), ReceivedAt: now, Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	if err := svc.Drain(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
	if len(sub.Events()) != b.N {
		b.Fatalf("%d events for %d deliveries", len(sub.Events()), b.N)
	}
}
