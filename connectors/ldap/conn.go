package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"time"

	"github.com/gatehousehq/gatehouse"
	goldap "github.com/go-ldap/ldap/v3"
)

// conn returns the shared connection, dialling and binding when there is
// none or the last one broke. go-ldap multiplexes concurrent requests over
// one connection, so one bound connection is the whole pool; what matters is
// replacing it when the server restarts or a load balancer drops it.
func (c *Connector) conn(ctx context.Context) (*goldap.Conn, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && !c.cur.IsClosing() {
		return c.cur, false, nil
	}
	if c.cur != nil {
		c.cur.Close()
		c.cur = nil
	}
	l, err := c.dial(ctx)
	if err != nil {
		return nil, true, err
	}
	c.cur = l
	return l, true, nil
}

// drop forgets l if it is still the shared connection.
func (c *Connector) drop(l *goldap.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == l {
		c.cur.Close()
		c.cur = nil
	}
}

// Close closes the connection; the connector dials again on next use.
func (c *Connector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		err := c.cur.Close()
		c.cur = nil
		return err
	}
	return nil
}

func (c *Connector) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(c.s.URL)
	tc := &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: c.s.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.s.ServerName != "" {
		tc.ServerName = c.s.ServerName
	}
	if c.s.CAFile != "" {
		pem, err := os.ReadFile(c.s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificates", c.s.CAFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

func (c *Connector) dial(ctx context.Context) (*goldap.Conn, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, gatehouse.Permanent(fmt.Errorf("ldap %s: %w", c.name, err))
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	l, err := goldap.DialURL(c.s.URL, goldap.DialWithDialer(dialer), goldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, c.classify("dial "+c.s.URL, err)
	}
	l.SetTimeout(c.s.Timeout)
	if c.s.StartTLS {
		if err := l.StartTLS(tc); err != nil {
			l.Close()
			return nil, c.classify("starttls", err)
		}
	}
	if c.s.BindDN != "" {
		pw, err := c.s.BindPassword.Value()
		if err != nil {
			l.Close()
			return nil, gatehouse.Permanent(fmt.Errorf("ldap %s: bind password: %w", c.name, err))
		}
		if err := l.Bind(c.s.BindDN, pw); err != nil {
			l.Close()
			return nil, c.classify("bind as "+c.s.BindDN, err)
		}
	}
	return l, nil
}

// do runs f on the shared connection. A network error on a reused
// connection (stale after a server restart) is retried once on a fresh one:
// every operation here is idempotent, so repeating it is safe. The context
// is checked first and bounds the wait; go-ldap requests are bounded by the
// connection timeout, after which an abandoned request's goroutine ends.
func (c *Connector) do(ctx context.Context, what string, f func(l *goldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("ldap %s %s: %w", c.name, what, err)
		}
		l, fresh, err := c.conn(ctx)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- f(l) }()
		select {
		case err = <-done:
		case <-ctx.Done():
			return fmt.Errorf("ldap %s %s: %w", c.name, what, ctx.Err())
		}
		if err != nil && isNetwork(err) {
			c.drop(l)
			if !fresh && attempt == 0 {
				continue
			}
		}
		return err
	}
}

func isNetwork(err error) bool {
	var ne net.Error
	return goldap.IsErrorAnyOf(err, goldap.ErrorNetwork, goldap.LDAPResultServerDown, goldap.LDAPResultConnectError) ||
		errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// classify wraps err with context and its class: network trouble and a busy
// or unavailable server are retryable; bad credentials, missing rights and
// schema violations are permanent; noSuchObject is NotFound.
func (c *Connector) classify(what string, err error) error {
	if err == nil {
		return nil
	}
	var ce *gatehouse.ConnectorError
	if errors.As(err, &ce) {
		return err // classified already (e.g. the dial or bind under this request)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("ldap %s %s: %w", c.name, what, err)
	}
	werr := fmt.Errorf("ldap %s %s: %w", c.name, what, err)
	var le *goldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case goldap.ErrorNetwork, goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultServerDown,
			goldap.LDAPResultConnectError, goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultTimeout,
			goldap.LDAPResultAdminLimitExceeded, goldap.LDAPResultLoopDetect, goldap.LDAPResultOther:
			return gatehouse.Retryable(werr)
		case goldap.LDAPResultNoSuchObject:
			return gatehouse.NotFound(werr)
		default:
			return gatehouse.Permanent(werr)
		}
	}
	if isNetwork(err) {
		return gatehouse.Retryable(werr)
	}
	return werr
}
