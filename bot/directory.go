package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	sh "github.com/gatehousehq/gatehouse/handlers/slack"
	"github.com/slack-go/slack"
)

// directoryTTL is how long a user's email or a group's members are trusted.
// Short enough that a removed admin loses rights within minutes.
const directoryTTL = 5 * time.Minute

// errNoEmail means Slack knows the user but shows no email (a guest, a bot,
// or the app lacks users:read.email).
var errNoEmail = errors.New("slack shows no email for this user")

type userEntry struct {
	email string
	err   error
	at    time.Time
}

type groupEntry struct {
	members map[string]bool
	at      time.Time
}

// directory maps Slack user ids and emails both ways (users.info,
// users.lookupByEmail) and resolves the IT and HR admin lists, whose entries
// may be user ids, user-group ids (usergroups.users.list) or emails.
type directory struct {
	api   *api
	it    []string
	hr    []string
	now   func() time.Time
	mu    sync.Mutex
	users map[string]userEntry  // user id -> email
	ids   map[string]userEntry  // email -> user id (email field holds the id)
	grp   map[string]groupEntry // group id -> members
}

func newDirectory(a *api, it, hr []string) *directory {
	return &directory{api: a, it: it, hr: hr, now: time.Now,
		users: map[string]userEntry{}, ids: map[string]userEntry{}, grp: map[string]groupEntry{}}
}

// EmailOf returns the lower-cased email of a Slack user.
func (d *directory) EmailOf(ctx context.Context, userID string) (string, error) {
	d.mu.Lock()
	e, ok := d.users[userID]
	d.mu.Unlock()
	if ok && d.now().Sub(e.at) < directoryTTL {
		return e.email, e.err
	}
	var u *slack.User
	err := d.api.retry(ctx, "users.info", func() (err error) {
		u, err = d.api.c.GetUserInfoContext(ctx, userID)
		return err
	})
	e = userEntry{at: d.now()}
	switch {
	case err != nil && strings.Contains(err.Error(), "user_not_found"):
		e.err = fmt.Errorf("users.info %s: %w", userID, sh.ErrNotFound)
	case err != nil:
		return "", err // transient: do not cache
	case u.Deleted:
		e.err = fmt.Errorf("user %s is deactivated: %w", userID, sh.ErrNotFound)
	case u.Profile.Email == "":
		e.err = fmt.Errorf("user %s: %w", userID, errNoEmail)
	default:
		e.email = strings.ToLower(u.Profile.Email)
	}
	d.mu.Lock()
	d.users[userID] = e
	if e.email != "" {
		d.ids[e.email] = userEntry{email: userID, at: e.at}
	}
	d.mu.Unlock()
	return e.email, e.err
}

// UserIDOf returns the Slack user id for an email.
func (d *directory) UserIDOf(ctx context.Context, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	d.mu.Lock()
	e, ok := d.ids[email]
	d.mu.Unlock()
	if ok && d.now().Sub(e.at) < directoryTTL {
		return e.email, e.err
	}
	var u *slack.User
	err := d.api.retry(ctx, "users.lookupByEmail", func() (err error) {
		u, err = d.api.c.GetUserByEmailContext(ctx, email)
		return err
	})
	e = userEntry{at: d.now()}
	switch {
	case err != nil && strings.Contains(err.Error(), "users_not_found"):
		e.err = fmt.Errorf("no Slack user with email %s: %w", email, sh.ErrNotFound)
	case err != nil:
		return "", err
	default:
		e.email = u.ID
	}
	d.mu.Lock()
	d.ids[email] = e
	if e.err == nil {
		d.users[u.ID] = userEntry{email: email, at: e.at}
	}
	d.mu.Unlock()
	return e.email, e.err
}

func (d *directory) groupHas(ctx context.Context, group, user string) (bool, error) {
	d.mu.Lock()
	g, ok := d.grp[group]
	d.mu.Unlock()
	if !ok || d.now().Sub(g.at) >= directoryTTL {
		var ids []string
		err := d.api.retry(ctx, "usergroups.users.list", func() (err error) {
			ids, err = d.api.c.GetUserGroupMembersContext(ctx, group)
			return err
		})
		if err != nil {
			return false, err
		}
		g = groupEntry{members: map[string]bool{}, at: d.now()}
		for _, id := range ids {
			g.members[id] = true
		}
		d.mu.Lock()
		d.grp[group] = g
		d.mu.Unlock()
	}
	return g.members[user], nil
}

// member reports whether the user (by id or email) is in an admin list.
// Lookup failures count as "not a member": an outage must not grant rights.
func (d *directory) member(ctx context.Context, list []string, userID, email string) bool {
	for _, e := range list {
		e = strings.TrimSpace(e)
		switch {
		case e == "":
		case strings.Contains(e, "@"):
			if email != "" && strings.EqualFold(e, email) {
				return true
			}
		case strings.HasPrefix(e, "S"):
			if ok, err := d.groupHas(ctx, e, userID); err == nil && ok {
				return true
			} else if err != nil {
				d.api.log.Warn().Err(err).Str("group", e).Msg("cannot read admin user group")
			}
		default:
			if e == userID {
				return true
			}
		}
	}
	return false
}

// actor resolves who a Slack user is for the handlers.
func (d *directory) actor(ctx context.Context, userID string) sh.Actor {
	a := sh.Actor{UserID: userID}
	email, err := d.EmailOf(ctx, userID)
	if err != nil {
		d.api.log.Debug().Err(err).Str("user", userID).Msg("no email for actor")
	}
	a.Email = email
	a.IT = d.member(ctx, d.it, userID, email)
	a.HR = d.member(ctx, d.hr, userID, email)
	return a
}

// forget drops what is cached about a user (user_change events).
func (d *directory) forget(userID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.users[userID]; ok && e.email != "" {
		delete(d.ids, e.email)
	}
	delete(d.users, userID)
}
