package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"approvald/approval"
)

// The columns of the directory's tables in the order their scan functions
// read them; the mutable ones (channels) in the order of their values.
const (
	channelColumns    = "name, created_at, " + channelMutable
	channelMutable    = "type, email, url, version, updated_at"
	routeColumns      = "id, channel, events, scope, created_at"
	contactColumns    = "key, principal, group_name, email, emails, channel, admin, source, updated_at"
	delegationColumns = "id, delegator, delegator_groups, delegate, starts_at, ends_at, reason, created_by, created_at, revoked_at, revoked_by"
)

var (
	insertChannel = "INSERT INTO notification_channels (" + channelMutable + ", name, created_at) VALUES (" + params(7) + ") ON CONFLICT (name) DO NOTHING"
	updateChannel = "UPDATE notification_channels SET " + assign(channelMutable) + " WHERE name = $6 AND version = $7"
	// putContact replaces a contact unless the stored one's source takes
	// precedence: admin over oidc over api_key.
	putContact = "INSERT INTO contacts (" + contactColumns + ") VALUES (" + params(9) + `)
		ON CONFLICT (key) DO UPDATE SET principal = excluded.principal, group_name = excluded.group_name,
			email = excluded.email, emails = excluded.emails, channel = excluded.channel, admin = excluded.admin,
			source = excluded.source, updated_at = excluded.updated_at
		WHERE ` + contactRank("contacts.source") + " <= " + contactRank("excluded.source")
)

// contactRank returns the SQL expression of the precedence of the contact
// source in column: the higher, the stronger.
func contactRank(column string) string {
	return "(CASE " + column + " WHEN '" + approval.ContactAdmin + "' THEN 3 WHEN '" + approval.ContactOIDC + "' THEN 2 ELSE 1 END)"
}

// channels is how notification channels are written.
func (s *Store) channels() versioned[approval.NotificationChannel] {
	return versioned[approval.NotificationChannel]{what: "notification channel", insert: insertChannel, update: updateChannel,
		get: s.getChannel, values: channelValues,
		fields: func(c *approval.NotificationChannel) (*string, *int64, *time.Time, *time.Time) {
			return &c.Name, &c.Version, &c.CreatedAt, &c.UpdatedAt
		}}
}

// CreateChannel implements [approval.Directory.CreateChannel], setting
// c.Version to 1 and c's times to store precision, so that c is as it reads
// back.
func (s *Store) CreateChannel(ctx context.Context, c *approval.NotificationChannel) error {
	return createVersioned(ctx, s, s.channels(), c)
}

// GetChannel implements [approval.Directory.GetChannel].
func (s *Store) GetChannel(ctx context.Context, name string) (*approval.NotificationChannel, error) {
	return s.getChannel(ctx, s.db, name, "")
}

// ListChannels implements [approval.Directory.ListChannels].
func (s *Store) ListChannels(ctx context.Context) ([]approval.NotificationChannel, error) {
	return queryAll(ctx, s, s.db, "list channels", s.scanChannel, "SELECT "+channelColumns+" FROM notification_channels ORDER BY name")
}

// UpdateChannel implements [approval.Directory.UpdateChannel] as
// updateVersioned says.
func (s *Store) UpdateChannel(ctx context.Context, name string, fn func(*approval.NotificationChannel) error) (*approval.NotificationChannel, error) {
	return updateVersioned(ctx, s, s.channels(), name, fn)
}

// DeleteChannel implements [approval.Directory.DeleteChannel]. As
// DeletePolicy does, it deletes first, waiting for transactions that make a
// route or a contact name the channel (see checkNamed), then looks for them.
func (s *Store) DeleteChannel(ctx context.Context, name string) error {
	const op = "delete channel"
	return s.change(ctx, op, func(tx Tx) error {
		var user string
		err := s.deleteNamed(ctx, tx, op, "notification_channels", "notification channel", name)
		if err == nil {
			err = tx.QueryRow(ctx, `
				SELECT 'route ' || CAST(id AS TEXT) FROM notification_routes WHERE channel = $1
				UNION ALL
				SELECT 'the contact of ' || key FROM contacts WHERE channel = $1 AND channel <> ''
				LIMIT 1`, name).Scan(&user)
		}
		if err == nil {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "notification channel %q is used by %s", name, user)
		}
		if noRows(err) {
			return nil
		}
		return s.fail(op, err)
	})
}

// channelValues are the stored values of c's channelMutable columns: the
// SMTP settings as a JSON string, NULL for none.
func channelValues(c *approval.NotificationChannel) ([]any, error) {
	var email *string
	if c.Email != nil {
		b, err := json.Marshal(c.Email)
		if err != nil {
			return nil, fmt.Errorf("channel %q: %w", c.Name, err)
		}
		email = new(string(b))
	}
	return []any{string(c.Type), email, c.URL, c.Version, c.UpdatedAt}, nil
}

// getChannel reads the channel named name through q, with the locking clause lock.
func (s *Store) getChannel(ctx context.Context, q Querier, name, lock string) (*approval.NotificationChannel, error) {
	var c approval.NotificationChannel
	if err := s.scanChannel(q.QueryRow(ctx, "SELECT "+channelColumns+" FROM notification_channels WHERE name = $1"+lock, name), &c); err != nil {
		return nil, s.found("get channel", "notification channel", err)
	}
	return &c, nil
}

// scanChannel reads a row of channelColumns into c.
func (s *Store) scanChannel(row Row, c *approval.NotificationChannel) error {
	var (
		typ   string
		email *string
	)
	if err := row.Scan(&c.Name, s.d.Time(&c.CreatedAt), &typ, &email, &c.URL, &c.Version, s.d.Time(&c.UpdatedAt)); err != nil {
		return err
	}
	c.Type = approval.ChannelType(typ)
	if email != nil {
		c.Email = new(approval.EmailSettings)
	}
	if err := unmarshal("email", email, c.Email); err != nil {
		return fmt.Errorf("channel %q: %w", c.Name, err)
	}
	return nil
}

// CreateRoute implements [approval.Directory.CreateRoute], setting rt's ID,
// its creation time to store precision and nil Events to none, so that rt
// is as it reads back.
func (s *Store) CreateRoute(ctx context.Context, rt *approval.NotificationRoute) error {
	const op = "create route"
	if rt.Events == nil {
		rt.Events = []approval.NotifyKind{}
	}
	rt.CreatedAt = approval.TruncateTime(rt.CreatedAt)
	events, err := json.Marshal(rt.Events)
	if err != nil {
		return s.fail(op, err)
	}
	var id int64
	err = s.change(ctx, op, func(tx Tx) error {
		if err := s.checkNamed(ctx, tx, "notification_channels", "channel", "notification channel", rt.Channel); err != nil {
			return err
		}
		return s.fail(op, tx.QueryRow(ctx, "INSERT INTO notification_routes (channel, events, scope, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
			rt.Channel, string(events), rt.Scope, rt.CreatedAt).Scan(&id))
	})
	if err == nil {
		rt.ID = id
	}
	return err
}

// ListRoutes implements [approval.Directory.ListRoutes].
func (s *Store) ListRoutes(ctx context.Context) ([]approval.NotificationRoute, error) {
	return queryAll(ctx, s, s.db, "list routes", s.scanRoute, "SELECT "+routeColumns+" FROM notification_routes ORDER BY id")
}

// DeleteRoute implements [approval.Directory.DeleteRoute].
func (s *Store) DeleteRoute(ctx context.Context, id int64) error {
	return s.deleteOne(ctx, "delete route", "notification route", "DELETE FROM notification_routes WHERE id = $1", id)
}

// deleteOne runs the DELETE query, which deletes a what: KindNotFound when
// it deletes nothing.
func (s *Store) deleteOne(ctx context.Context, op, what, query string, args ...any) error {
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, query, args...)
		if err == nil && n == 0 {
			return approval.NotFound(what)
		}
		return s.fail(op, err)
	})
}

// scanRoute reads a row of routeColumns into rt.
func (s *Store) scanRoute(row Row, rt *approval.NotificationRoute) error {
	var events string
	if err := row.Scan(&rt.ID, &rt.Channel, &events, &rt.Scope, s.d.Time(&rt.CreatedAt)); err != nil {
		return err
	}
	if err := unmarshal("events", &events, &rt.Events); err != nil {
		return fmt.Errorf("route %d: %w", rt.ID, err)
	}
	return nil
}

// PutContact implements [approval.Directory.PutContact] in one statement
// (after the check of a group's channel, which locks the channel's row as
// checkNamed says). Its time is kept at store precision; no emails read
// back as nil.
func (s *Store) PutContact(ctx context.Context, c approval.Contact) error {
	const op = "put contact"
	emails := "[]"
	if len(c.Emails) > 0 {
		b, err := json.Marshal(c.Emails)
		if err != nil {
			return s.fail(op, err)
		}
		emails = string(b)
	}
	return s.change(ctx, op, func(tx Tx) error {
		if c.Group != "" && c.Channel != "" {
			if err := s.checkNamed(ctx, tx, "notification_channels", "channel", "notification channel", c.Channel); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, putContact, c.Key(), c.Principal, c.Group, c.Email, emails, c.Channel, c.Admin, c.Source,
			approval.TruncateTime(c.UpdatedAt))
		return s.fail(op, err)
	})
}

// Contacts implements [approval.Directory.Contacts].
func (s *Store) Contacts(ctx context.Context, keys []string) (map[string]approval.Contact, error) {
	out := make(map[string]approval.Contact, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cs, err := queryAll(ctx, s, s.db, "contacts", s.scanContact,
		"SELECT "+contactColumns+" FROM contacts WHERE "+s.d.In("key", "$1"), s.d.Array(keys))
	for _, c := range cs {
		out[c.Key()] = c
	}
	return out, err
}

// ListContacts implements [approval.Directory.ListContacts].
func (s *Store) ListContacts(ctx context.Context) ([]approval.Contact, error) {
	return queryAll(ctx, s, s.db, "list contacts", s.scanContact, "SELECT "+contactColumns+" FROM contacts ORDER BY key")
}

// AdminContacts implements [approval.Directory.AdminContacts], by key.
func (s *Store) AdminContacts(ctx context.Context) ([]approval.Contact, error) {
	return queryAll(ctx, s, s.db, "admin contacts", s.scanContact, "SELECT "+contactColumns+" FROM contacts WHERE admin ORDER BY key")
}

// DeleteContact implements [approval.Directory.DeleteContact].
func (s *Store) DeleteContact(ctx context.Context, key string) error {
	return s.deleteOne(ctx, "delete contact", "contact", "DELETE FROM contacts WHERE key = $1", key)
}

// scanContact reads a row of contactColumns into c.
func (s *Store) scanContact(row Row, c *approval.Contact) error {
	var key, emails string
	if err := row.Scan(&key, &c.Principal, &c.Group, &c.Email, &emails, &c.Channel, &c.Admin, &c.Source, s.d.Time(&c.UpdatedAt)); err != nil {
		return err
	}
	if err := unmarshal("emails", &emails, &c.Emails); err != nil {
		return fmt.Errorf("contact %q: %w", key, err)
	}
	if len(c.Emails) == 0 {
		c.Emails = nil
	}
	return nil
}

// SetMutes implements [approval.Directory.SetMutes]; nil kinds are stored
// as none.
func (s *Store) SetMutes(ctx context.Context, principal string, kinds []approval.NotifyKind) error {
	if kinds == nil {
		kinds = []approval.NotifyKind{}
	}
	b, err := json.Marshal(kinds)
	if err != nil {
		return s.fail("set mutes", err)
	}
	_, err = s.exec(ctx, "set mutes", `INSERT INTO notification_mutes (principal, kinds) VALUES ($1, $2)
		ON CONFLICT (principal) DO UPDATE SET kinds = excluded.kinds`, principal, string(b))
	return err
}

// Mutes implements [approval.Directory.Mutes]: principals that set none are
// absent.
func (s *Store) Mutes(ctx context.Context, principals []string) (map[string][]approval.NotifyKind, error) {
	type mute struct {
		principal string
		kinds     []approval.NotifyKind
	}
	out := make(map[string][]approval.NotifyKind, len(principals))
	if len(principals) == 0 {
		return out, nil
	}
	ms, err := queryAll(ctx, s, s.db, "mutes", func(row Row, m *mute) error {
		var kinds string
		if err := row.Scan(&m.principal, &kinds); err != nil {
			return err
		}
		return unmarshal("kinds", &kinds, &m.kinds)
	}, "SELECT principal, kinds FROM notification_mutes WHERE "+s.d.In("principal", "$1"), s.d.Array(principals))
	for _, m := range ms {
		out[m.principal] = m.kinds
	}
	return out, err
}

// CreateDelegation implements [approval.Directory.CreateDelegation],
// keeping its times at store precision. An id that cannot be an id is an
// internal error; one stored already a KindConflict one.
func (s *Store) CreateDelegation(ctx context.Context, d approval.Delegation) error {
	const op = "create delegation"
	if !s.validID(d.ID) {
		return s.fail(op, fmt.Errorf("delegation id %q is not a canonical UUID", d.ID))
	}
	groups := d.DelegatorGroups
	if groups == nil {
		groups = []string{}
	}
	b, err := json.Marshal(groups)
	if err != nil {
		return s.fail(op, err)
	}
	t := approval.TruncateTime
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, "INSERT INTO delegations ("+delegationColumns+") VALUES ("+params(11)+") ON CONFLICT (id) DO NOTHING",
			d.ID, d.Delegator, string(b), d.Delegate, t(d.Starts), t(d.Ends), d.Reason, d.CreatedBy, t(d.CreatedAt), truncated(d.RevokedAt), d.RevokedBy)
		if err == nil && n == 0 {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "a delegation with id %s exists", d.ID)
		}
		return s.fail(op, err)
	})
}

// truncated returns *t at store precision, nil for nil.
func truncated(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return new(approval.TruncateTime(*t))
}

// GetDelegation implements [approval.Directory.GetDelegation].
func (s *Store) GetDelegation(ctx context.Context, id string) (*approval.Delegation, error) {
	return s.getDelegation(ctx, s.db, id)
}

func (s *Store) getDelegation(ctx context.Context, q Querier, id string) (*approval.Delegation, error) {
	var d approval.Delegation
	if !s.validID(id) {
		return nil, approval.NotFound("delegation")
	}
	if err := s.scanDelegation(q.QueryRow(ctx, "SELECT "+delegationColumns+" FROM delegations WHERE id = $1", id), &d); err != nil {
		return nil, s.found("get delegation", "delegation", err)
	}
	return &d, nil
}

// ListDelegations implements [approval.Directory.ListDelegations], newest
// (latest created) first, ties by id descending.
func (s *Store) ListDelegations(ctx context.Context, f approval.DelegationFilter) ([]approval.Delegation, error) {
	var q Query
	if f.Principal != "" {
		p := q.Add(f.Principal)
		q.Conds = append(q.Conds, "(delegator = "+p+" OR delegate = "+p+")")
	}
	if !f.ActiveAt.IsZero() {
		q.Conds = append(q.Conds, activeAt(q.Add(f.ActiveAt)))
	}
	return s.delegations(ctx, "list delegations", q, "created_at DESC, id DESC", Limit(f.Limit))
}

// ActiveDelegations implements [approval.Directory.ActiveDelegations],
// oldest first.
func (s *Store) ActiveDelegations(ctx context.Context, delegate string, t time.Time) ([]approval.Delegation, error) {
	var q Query
	q.Cond(true, "delegate =", delegate)
	q.Conds = append(q.Conds, activeAt(q.Add(t)))
	return s.delegations(ctx, "active delegations", q, "created_at, id", 0)
}

// activeAt returns the condition that a delegation is active at the time param.
func activeAt(param string) string {
	return "revoked_at IS NULL AND starts_at <= " + param + " AND ends_at > " + param
}

// delegations returns the delegations q selects, in order, up to limit
// (all when 0).
func (s *Store) delegations(ctx context.Context, op string, q Query, order string, limit int) ([]approval.Delegation, error) {
	query := "SELECT " + delegationColumns + " FROM delegations" + q.Where() + " ORDER BY " + order
	if limit > 0 {
		query += " LIMIT " + q.Add(limit)
	}
	return queryAll(ctx, s, s.db, op, s.scanDelegation, query, q.Args...)
}

// RevokeDelegation implements [approval.Directory.RevokeDelegation],
// returning the delegation as it is afterwards.
func (s *Store) RevokeDelegation(ctx context.Context, id, by string, t time.Time) (*approval.Delegation, error) {
	const op = "revoke delegation"
	if !s.validID(id) {
		return nil, approval.NotFound("delegation")
	}
	var out *approval.Delegation
	err := s.change(ctx, op, func(tx Tx) (err error) {
		if _, err := tx.Exec(ctx, "UPDATE delegations SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
			approval.TruncateTime(t), by, id); err != nil {
			return s.fail(op, err)
		}
		out, err = s.getDelegation(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanDelegation reads a row of delegationColumns into d.
func (s *Store) scanDelegation(row Row, d *approval.Delegation) error {
	var groups string
	err := row.Scan(&d.ID, &d.Delegator, &groups, &d.Delegate, s.d.Time(&d.Starts), s.d.Time(&d.Ends), &d.Reason,
		&d.CreatedBy, s.d.Time(&d.CreatedAt), s.d.NullTime(&d.RevokedAt), &d.RevokedBy)
	if err != nil {
		return err
	}
	if err := unmarshal("delegator_groups", &groups, &d.DelegatorGroups); err != nil {
		return fmt.Errorf("delegation %s: %w", d.ID, err)
	}
	return nil
}
