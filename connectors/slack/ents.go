package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// Grant adds the user to a channel (conversations.invite) or a user group
// (usergroups.users.update with the full member list plus the user).
func (c *Connector) Grant(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.change(ctx, ref, ent, true)
}

// Revoke removes the user from a channel (conversations.kick) or a user
// group. A missing account or membership is done.
func (c *Connector) Revoke(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement) error {
	return c.change(ctx, ref, ent, false)
}

func (c *Connector) change(ctx context.Context, ref gatehouse.AccountRef, ent gatehouse.Entitlement, add bool) error {
	res := ent.Resource
	if res == "" {
		res = ent.Name
	}
	if ent.Kind != gatehouse.EntChannel && ent.Kind != gatehouse.EntGroup {
		return gatehouse.Permanent(fmt.Errorf("slack %s: entitlement %s is of kind %q; this connector grants channels and groups", c.name, ent.Name, ent.Kind))
	}
	u, err := c.find(ctx, ref)
	if err != nil {
		if notFound(err) && !add {
			return nil
		}
		return err
	}
	if ent.Kind == gatehouse.EntGroup {
		return c.changeGroup(ctx, u.ID, strings.TrimPrefix(res, "@"), add)
	}
	key := channelKey(res)
	id, err := c.channelID(ctx, key)
	if err != nil {
		return err
	}
	if add {
		_, err = c.call(ctx, c.bot, "conversations.invite", url.Values{"channel": {id}, "users": {u.ID}}, nil)
		if CodeOf(err) == "already_in_channel" {
			return nil
		}
		if err != nil {
			return fmt.Errorf("slack %s: add %s to #%s: %w", c.name, u.ID, key, c.channelProblem(key, err))
		}
		return nil
	}
	_, err = c.call(ctx, c.bot, "conversations.kick", url.Values{"channel": {id}, "user": {u.ID}}, nil)
	if CodeOf(err) == "not_in_channel" {
		// Slack says this both when the user is not a member (done) and
		// when the bot is not (the kick did not happen): ask which.
		in, merr := c.isMember(ctx, id, u.ID)
		if merr != nil {
			return fmt.Errorf("slack %s: remove %s from #%s: %w", c.name, u.ID, key, c.channelProblem(key, merr))
		}
		if !in {
			return nil
		}
		return gatehouse.Permanent(fmt.Errorf("slack %s: remove %s from #%s: the Gatehouse app is not a member of the channel; add it (/invite @app in #%s) so it can remove people: %w", c.name, u.ID, key, key, err))
	}
	if err != nil {
		return fmt.Errorf("slack %s: remove %s from #%s: %w", c.name, u.ID, key, c.channelProblem(key, err))
	}
	return nil
}

// channelProblem turns the codes that mean "the bot cannot see or act in
// this channel" into actionable permanent errors.
func (c *Connector) channelProblem(key string, err error) error {
	switch CodeOf(err) {
	case "not_in_channel":
		return gatehouse.Permanent(fmt.Errorf("the Gatehouse app is not a member of #%s; private channels need it: run /invite @app in #%s: %w", key, key, err))
	case "channel_not_found":
		return gatehouse.Permanent(fmt.Errorf("channel #%s not found: check the entitlement's resource, or invite the app into the private channel: %w", key, err))
	case "is_archived":
		return gatehouse.Permanent(fmt.Errorf("channel #%s is archived: %w", key, err))
	}
	return err
}

func (c *Connector) isMember(ctx context.Context, channel, userID string) (bool, error) {
	found := false
	err := c.paged(ctx, c.bot, "conversations.members", url.Values{"channel": {channel}}, func(body []byte) error {
		var page struct {
			Members []string `json:"members"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return gatehouse.Retryable(err)
		}
		found = found || slices.Contains(page.Members, userID)
		return nil
	})
	return found, err
}

// channelID resolves "#name" or an id through conversations.list (paged,
// cached per connector).
func (c *Connector) channelID(ctx context.Context, key string) (string, error) {
	c.mu.Lock()
	id, ok := c.channels[key]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	found := map[string]string{}
	err := c.paged(ctx, c.bot, "conversations.list", url.Values{"types": {"public_channel,private_channel"}, "exclude_archived": {"true"}}, func(body []byte) error {
		var page struct {
			Channels []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"channels"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return gatehouse.Retryable(err)
		}
		for _, ch := range page.Channels {
			found[strings.ToLower(ch.Name)] = ch.ID
			found[strings.ToLower(ch.ID)] = ch.ID
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("slack %s: list channels: %w", c.name, err)
	}
	c.mu.Lock()
	for k, v := range found {
		c.channels[k] = v
	}
	id, ok = c.channels[key]
	c.mu.Unlock()
	if !ok {
		return "", gatehouse.Permanent(fmt.Errorf("slack %s: channel #%s not found among the channels the app can see: check the entitlement's resource, or /invite the app into the private channel", c.name, key))
	}
	return id, nil
}

func (c *Connector) groupID(ctx context.Context, handle string) (string, error) {
	c.mu.Lock()
	id, ok := c.groups[handle]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	var out struct {
		Usergroups []struct {
			ID     string `json:"id"`
			Handle string `json:"handle"`
		} `json:"usergroups"`
	}
	if _, err := c.call(ctx, c.bot, "usergroups.list", url.Values{}, &out); err != nil {
		return "", fmt.Errorf("slack %s: list user groups: %w", c.name, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range out.Usergroups {
		c.groups[g.Handle] = g.ID
	}
	if id, ok = c.groups[handle]; !ok {
		return "", gatehouse.Permanent(fmt.Errorf("slack %s: user group @%s not found (or disabled)", c.name, handle))
	}
	return id, nil
}

func (c *Connector) groupUsers(ctx context.Context, handle string) ([]string, error) {
	id, err := c.groupID(ctx, handle)
	if err != nil {
		return nil, err
	}
	var out struct {
		Users []string `json:"users"`
	}
	if _, err := c.call(ctx, c.bot, "usergroups.users.list", url.Values{"usergroup": {id}}, &out); err != nil {
		return nil, fmt.Errorf("slack %s: members of @%s: %w", c.name, handle, err)
	}
	return out.Users, nil
}

// changeGroup is a read-modify-write: Slack only replaces a group's whole
// member list. Two writers at once can lose one's change (see the docs);
// ReadAccount after a leaver's steps is what catches it.
func (c *Connector) changeGroup(ctx context.Context, userID, handle string, add bool) error {
	users, err := c.groupUsers(ctx, handle)
	if err != nil {
		return err
	}
	has := slices.Contains(users, userID)
	if has == add {
		return nil
	}
	var next []string
	if add {
		next = append(slices.Clone(users), userID)
	} else {
		for _, u := range users {
			if u != userID {
				next = append(next, u)
			}
		}
	}
	if len(next) == 0 {
		return gatehouse.Permanent(fmt.Errorf("slack %s: removing %s would leave @%s empty, which Slack refuses; disable the group or add another member first", c.name, userID, handle))
	}
	id, _ := c.groupID(ctx, handle)
	if _, err := c.call(ctx, c.bot, "usergroups.users.update", url.Values{"usergroup": {id}, "users": {strings.Join(next, ",")}}, nil); err != nil {
		return fmt.Errorf("slack %s: update @%s: %w", c.name, handle, err)
	}
	return nil
}
