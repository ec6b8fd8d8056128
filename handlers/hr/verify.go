package hr

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// rejection is why a delivery was refused, with the HTTP status to answer.
// The reason is logged; the client only sees the status and a short word.
type rejection struct {
	status int
	reason string
}

func (r *rejection) Error() string { return fmt.Sprintf("%d: %s", r.status, r.reason) }

func reject(status int, format string, args ...any) error {
	return &rejection{status: status, reason: fmt.Sprintf(format, args...)}
}

func unauthorized(format string, args ...any) error {
	return reject(http.StatusUnauthorized, format, args...)
}

func malformed(format string, args ...any) error {
	return reject(http.StatusBadRequest, format, args...)
}

func statusOf(err error) int {
	var r *rejection
	if errors.As(err, &r) {
		return r.status
	}
	return http.StatusInternalServerError
}

// macOf computes HMAC(key, parts...).
func macOf(newHash func() hash.Hash, key []byte, parts ...[]byte) []byte {
	m := hmac.New(newHash, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// checkMAC decodes the received signature and compares it with the expected
// MAC in constant time. Decoding failures are just mismatches.
func checkMAC(received, encoding string, expected []byte) bool {
	received = strings.TrimSpace(received)
	var got []byte
	var err error
	switch encoding {
	case "base64":
		got, err = base64.StdEncoding.DecodeString(received)
		if err != nil {
			got, err = base64.RawStdEncoding.DecodeString(received)
		}
	default:
		got, err = hex.DecodeString(strings.ToLower(received))
	}
	if err != nil {
		return false
	}
	return hmac.Equal(got, expected)
}

// checkToken compares a received header against the configured token in
// constant time, accepting an optional "Bearer " prefix.
func checkToken(header, token string) bool {
	h := strings.TrimSpace(header)
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		h = strings.TrimSpace(h[7:])
	}
	if token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h), []byte(token)) == 1
}

// parseTimestamp accepts unix seconds (or milliseconds) and RFC 3339.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing")
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e12 {
			return time.UnixMilli(n), nil
		}
		return time.Unix(n, 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognized timestamp %q", s)
}

// checkWindow refuses timestamps further than window from now, in either
// direction (a clock far ahead is as suspicious as a replay).
func checkWindow(ts, now time.Time, window time.Duration) error {
	d := now.Sub(ts)
	if d > window {
		return unauthorized("timestamp is %s old (window %s): stale or replayed", d.Round(time.Second), window)
	}
	if d < -window {
		return unauthorized("timestamp is %s in the future (window %s)", (-d).Round(time.Second), window)
	}
	return nil
}

// hmacBambooHR verifies X-BambooHR-Signature: hex HMAC-SHA256(key, body ||
// X-BambooHR-Timestamp), with the timestamp inside the window.
func hmacBambooHR(h http.Header, body []byte, key string, now time.Time, window time.Duration) error {
	sig, ts := h.Get("X-BambooHR-Signature"), h.Get("X-BambooHR-Timestamp")
	if sig == "" || ts == "" {
		return unauthorized("missing X-BambooHR-Signature or X-BambooHR-Timestamp")
	}
	if !checkMAC(sig, "hex", macOf(sha256.New, []byte(key), body, []byte(ts))) {
		return unauthorized("bad X-BambooHR-Signature")
	}
	t, err := parseTimestamp(ts)
	if err != nil {
		return unauthorized("X-BambooHR-Timestamp: %v", err)
	}
	return checkWindow(t, now, window)
}

// hmacHiBob verifies Bob-Signature: base64 HMAC-SHA512(secret, body).
func hmacHiBob(h http.Header, body []byte, key string) error {
	sig := h.Get("Bob-Signature")
	if sig == "" {
		return unauthorized("missing Bob-Signature")
	}
	if !checkMAC(sig, "base64", macOf(sha512.New, []byte(key), body)) {
		return unauthorized("bad Bob-Signature")
	}
	return nil
}

// SignBambooHR signs like BambooHR does (tests, local tooling).
func SignBambooHR(key string, body []byte, ts string) string {
	return hex.EncodeToString(macOf(sha256.New, []byte(key), body, []byte(ts)))
}

// SignHiBob signs like HiBob does (tests, local tooling).
func SignHiBob(key string, body []byte) string {
	return base64.StdEncoding.EncodeToString(macOf(sha512.New, []byte(key), body))
}
