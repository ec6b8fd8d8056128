package google

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/gatehousehq/gatehouse"
)

// transferApp is a Data Transfer application and the parameters sent for it.
type transferApp struct {
	id     string
	name   string
	params []transferParam
}

type transferParam struct {
	Key   string   `json:"key"`
	Value []string `json:"value"`
}

// dataTransfer is the wire shape of a Data Transfer resource.
type dataTransfer struct {
	ID                        string `json:"id,omitempty"`
	OldOwnerUserID            string `json:"oldOwnerUserId"`
	NewOwnerUserID            string `json:"newOwnerUserId"`
	OverallTransferStatusCode string `json:"overallTransferStatusCode,omitempty"`
	RequestTime               string `json:"requestTime,omitempty"`
	ApplicationDataTransfers  []struct {
		ApplicationID             string          `json:"applicationId"`
		ApplicationTransferParams []transferParam `json:"applicationTransferParams,omitempty"`
	} `json:"applicationDataTransfers"`
}

// transferApps resolves (once) the ids of Drive and Calendar for this customer.
func (c *Connector) transferApps(ctx context.Context) ([]transferApp, error) {
	c.mu.Lock()
	apps := c.apps
	c.mu.Unlock()
	if apps != nil {
		return apps, nil
	}
	calendar := c.s.TransferCalendar == nil || *c.s.TransferCalendar
	q := url.Values{}
	if id := c.customerID(); id != "" {
		q.Set("customerId", id)
	}
	err := c.pages(ctx, dtPath+"applications", q, func(raw []byte) (string, error) {
		var p struct {
			Applications []struct {
				ID   json.Number `json:"id"`
				Name string      `json:"name"`
			} `json:"applications"`
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", gatehouse.Retryable(fmt.Errorf("decode data transfer applications: %w", err))
		}
		for _, a := range p.Applications {
			n := strings.ToLower(a.Name)
			switch {
			case strings.Contains(n, "drive"):
				// Both shared and private files: a leaver's private files are
				// exactly what would be lost otherwise.
				apps = append(apps, transferApp{id: a.ID.String(), name: a.Name, params: []transferParam{{Key: "PRIVACY_LEVEL", Value: []string{"SHARED", "PRIVATE"}}}})
			case calendar && strings.Contains(n, "calendar"):
				apps = append(apps, transferApp{id: a.ID.String(), name: a.Name, params: []transferParam{{Key: "RELEASE_RESOURCES", Value: []string{"TRUE"}}}})
			}
		}
		return p.NextPageToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list data transfer applications: %w", err)
	}
	if len(apps) == 0 {
		return nil, gatehouse.Permanent(errors.New("the Data Transfer API offers neither Drive nor Calendar for this customer"))
	}
	c.mu.Lock()
	c.apps = apps
	c.mu.Unlock()
	return apps, nil
}

// customerID is the Data Transfer API's customerId; it has no my_customer
// alias, so an unset customer is left out (the subject's own customer).
func (c *Connector) customerID() string {
	if c.s.Customer == "my_customer" {
		return ""
	}
	return c.s.Customer
}

// TransferOwnership moves from's Drive files and Calendar events to to with
// the Data Transfer API and follows the transfer until Google completes it.
//
// It is safe to repeat across restarts: it first looks for a transfer
// between the same two users and follows that one rather than starting a
// second. While Google works it returns an InProgress error so the engine
// asks again later; a failed transfer is Permanent. A receiver without a
// Google account (or a suspended one) is ErrNoTransferTarget, so the engine
// tries the next receiver; a giver who is gone has nothing to transfer
// (NotFound).
func (c *Connector) TransferOwnership(ctx context.Context, from, to gatehouse.AccountRef) error {
	giver, err := c.getUser(ctx, from)
	if err != nil {
		return fmt.Errorf("transfer from google user: %w", err)
	}
	receiver, err := c.getUser(ctx, to)
	if gatehouse.Classify(err) == gatehouse.ClassNotFound {
		return gatehouse.Permanent(fmt.Errorf("transfer %s's data to %s: %w", giver.PrimaryEmail, firstNonEmpty(to.Email, to.AccountID), gatehouse.ErrNoTransferTarget))
	}
	if err != nil {
		return fmt.Errorf("transfer to google user: %w", err)
	}
	if receiver.Suspended {
		return gatehouse.Permanent(fmt.Errorf("transfer %s's data to %s (suspended): %w", giver.PrimaryEmail, receiver.PrimaryEmail, gatehouse.ErrNoTransferTarget))
	}
	if giver.ID == receiver.ID {
		return gatehouse.Permanent(fmt.Errorf("transfer %s's data to themselves", giver.PrimaryEmail))
	}
	what := fmt.Sprintf("data transfer from %s to %s", giver.PrimaryEmail, receiver.PrimaryEmail)

	existing, err := c.findTransfer(ctx, giver.ID, receiver.ID)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if existing == nil {
		apps, err := c.transferApps(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		req := dataTransfer{OldOwnerUserID: giver.ID, NewOwnerUserID: receiver.ID}
		for _, a := range apps {
			req.ApplicationDataTransfers = append(req.ApplicationDataTransfers, struct {
				ApplicationID             string          `json:"applicationId"`
				ApplicationTransferParams []transferParam `json:"applicationTransferParams,omitempty"`
			}{a.id, a.params})
		}
		var created dataTransfer
		if err := c.call(ctx, "POST", dtPath+"transfers", nil, req, &created); err != nil {
			return fmt.Errorf("start %s: %w", what, err)
		}
		c.log.Info().Str("transfer", created.ID).Str("from", giver.PrimaryEmail).Str("to", receiver.PrimaryEmail).Msg("started google data transfer")
		existing = &created
	}
	return c.transferState(what, existing)
}

func (c *Connector) transferState(what string, t *dataTransfer) error {
	switch strings.ToLower(t.OverallTransferStatusCode) {
	case "completed":
		return nil
	case "failed":
		return gatehouse.Permanent(fmt.Errorf("%s (id %s) failed at Google; start it again from the Admin console or delete it to let Gatehouse retry", what, t.ID))
	}
	state := t.OverallTransferStatusCode
	if state == "" {
		state = "new"
	}
	return gatehouse.InProgress(c.poll, fmt.Errorf("%s (id %s) is %s", what, t.ID, state))
}

// findTransfer returns the newest transfer between the two users, or nil.
// A failed one is returned too: it is reported, not silently restarted.
func (c *Connector) findTransfer(ctx context.Context, oldID, newID string) (*dataTransfer, error) {
	var best *dataTransfer
	q := url.Values{"oldOwnerUserId": {oldID}, "newOwnerUserId": {newID}}
	if id := c.customerID(); id != "" {
		q.Set("customerId", id)
	}
	err := c.pages(ctx, dtPath+"transfers", q, func(raw []byte) (string, error) {
		var p struct {
			DataTransfers []dataTransfer `json:"dataTransfers"`
			NextPageToken string         `json:"nextPageToken"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return "", gatehouse.Retryable(fmt.Errorf("decode data transfer list: %w", err))
		}
		for i := range p.DataTransfers {
			t := p.DataTransfers[i]
			// Filters are re-checked: a server that ignores them must not
			// make us follow someone else's transfer.
			if t.OldOwnerUserID != oldID || t.NewOwnerUserID != newID {
				continue
			}
			if best == nil || t.RequestTime > best.RequestTime {
				best = &t
			}
		}
		return p.NextPageToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for an earlier transfer: %w", err)
	}
	return best, nil
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
