package hr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestOversizedBodyGets413: a body far over body_limit, sent by a real
// HTTP client over loopback, is answered 413 with a JSON error — not a
// connection reset (which is what answering before reading the body, then
// closing with the client's bytes unread, gives). Both with a declared
// Content-Length and chunked (length unknown until read).
func TestOversizedBodyGets413(t *testing.T) {
	h := newHarness(t, webhookConfig)
	body := append([]byte(`{"type":"employee.updated","pad":"`), bytes.Repeat([]byte("x"), 4<<20)...)
	body = append(body, `"}`...)
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"content-length", false}, {"chunked", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(body)
			if tc.chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/hr/bamboo", r)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := (&http.Client{}).Do(req)
			if err != nil {
				t.Fatalf("client got %v, want a 413 answer", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q, want JSON", ct)
			}
			var e struct{ Error, Detail string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" || !strings.Contains(e.Detail, "4096") {
				t.Errorf("body %+v (%v), want a JSON error naming the limit", e, err)
			}
		})
	}
	// A client that sends the whole request before reading (as curl and
	// most vendor senders do) must read the 413 too.
	t.Run("raw client sends everything first", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		head := fmt.Sprintf("POST /hr/bamboo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		if _, err := io.WriteString(conn, head); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(body); err != nil {
			t.Fatalf("sending the body: %v (the server hung up before reading it)", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("reading the answer: %v, want a 413", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
	})
	if n := h.inbox(t); n != 0 {
		t.Fatalf("oversized deliveries were recorded: %d", n)
	}
}
