package approval

import (
	"context"
	"time"
)

// Store is what approvald needs from a database: every concern below, on
// one database. Each consumer takes only the interface of its concern. Every
// method that changes a request writes the request, its history entry and its
// outbox event in one transaction. Methods return *Error values of
// KindNotFound for unknown ids and wrap other failures as internal errors.
type Store interface {
	Requests
	Deliveries
	Keys
	Catalog
	Directory
	Notifications
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// Requests is the store of approval requests, their history, their index
// (inbox, dependencies, deadlines) and idempotency records. The engine is
// its one writer.
type Requests interface {
	// CreateApproval stores a new request r with its creation change ch. When
	// idem is non-nil it is recorded in the same transaction; if a record with
	// the same principal and key exists already, nothing is written and that
	// record is returned instead (the caller compares body hashes).
	CreateApproval(ctx context.Context, r *Request, ch Change, idem *Idempotency) (*Idempotency, error)
	// GetApproval returns the request with the given id.
	GetApproval(ctx context.Context, id string) (*Request, error)
	// ListApprovals returns up to f.Limit requests matching f, newest first.
	ListApprovals(ctx context.Context, f Filter) ([]*Request, error)
	// UpdateApproval loads the request, tells it the statuses of its
	// dependencies (SetDependencies) read in the same transaction, calls fn
	// with it, and — unless fn returns an error or a zero Change — writes
	// the changed request, the entry and the event in the same transaction,
	// no other change to the same request interleaving. It returns the
	// request as it is afterwards, with those statuses. A store may retry a
	// transaction that lost a conflict, so fn may run more than once and
	// must not have effects outside the request.
	UpdateApproval(ctx context.Context, id string, fn func(*Request) (Change, error)) (*Request, error)
	// ListByDeadline returns requests in any of statuses (all when empty)
	// ordered by deadline ascending — requests without a deadline last,
	// ties by id — skipping offset and returning at most limit.
	ListByDeadline(ctx context.Context, statuses []Status, offset, limit int) ([]*Request, error)
	// History returns the history entries of one request in order.
	History(ctx context.Context, id string) ([]HistoryEntry, error)
	// ListHistory returns up to f.Limit history entries of any request
	// matching f, in the order they were stored (ascending ID), with IDs
	// above f.After. Where transactions commit concurrently (PostgreSQL), an
	// entry may become visible after one with a higher ID, so a reader
	// walking forward may pass it; see the store's documentation.
	ListHistory(ctx context.Context, f HistoryFilter) ([]HistoryRecord, error)
	// HistoryChains returns the history chains of up to f.Limit requests
	// with ids above f.After (only f.RequestID's, when set), by id: each
	// request's version and history head with every entry of its history
	// in order, all read at one point in time, so that a change committing
	// meanwhile cannot make an intact chain look broken. A request without
	// entries has a chain without entries.
	HistoryChains(ctx context.Context, f ChainFilter) ([]HistoryChain, error)
	// Overdue returns the ids of up to limit requests pending or sent back
	// for changes whose deadline is at or before now.
	Overdue(ctx context.Context, now time.Time, limit int) ([]string, error)
	// Inbox returns up to q.Limit pending requests awaiting a review by
	// q.Principal, oldest (lowest id) first, with ids above q.After: those
	// whose Index().Inbox holds one of InboxKeys(q.Principal) and whose
	// Index().Excluded does not hold the principal.
	Inbox(ctx context.Context, q InboxQuery) ([]*Request, error)
	// Statuses returns the statuses of the requests with these ids; ids
	// that do not exist are absent from the result.
	Statuses(ctx context.Context, ids []string) (Deps, error)
	// Dependents returns the ids of pending requests whose Index().DependsOn
	// holds id, oldest first.
	Dependents(ctx context.Context, id string) ([]string, error)
	// Unresolved returns the ids of up to limit pending requests that their
	// dependencies decide now: a dependency is rejected, cancelled or
	// expired, or the request is blocked (Index().Blocked) and every
	// dependency is approved.
	Unresolved(ctx context.Context, limit int) ([]string, error)
	// DueReminders returns the ids of up to limit pending requests that are
	// not blocked and whose next reminder is at or before now, earliest first.
	DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DueEscalations returns the ids of up to limit pending requests whose
	// next escalation (Request.NextEscalationAt) is at or before now,
	// earliest first.
	DueEscalations(ctx context.Context, now time.Time, limit int) ([]string, error)
	// DeleteIdempotencyBefore forgets idempotency records created before t.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) (int64, error)
}

// Deliveries is the transactional outbox: the events that changes wrote, their
// webhook deliveries and their publication to the event bus.
type Deliveries interface {
	// Outbox returns up to limit outbox records with a sequence number
	// greater than after, in sequence order. With concurrent writers a lower
	// sequence number may commit after a higher one, so this is a reading
	// aid, not a delivery cursor.
	Outbox(ctx context.Context, after int64, limit int) ([]OutboxRecord, error)
	// LatestOutboxSeq returns the highest outbox sequence number, 0 if none.
	LatestOutboxSeq(ctx context.Context) (int64, error)
	// ClaimDeliveries leases up to limit due webhook deliveries: outbox
	// events with a Webhook target, not finished, whose next attempt is at
	// or before now, skipping the rules in skip. A claimed delivery's next
	// attempt moves to leaseUntil, so no other worker takes it meanwhile;
	// if the worker dies, it is due again then.
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, skip []string, limit int) ([]Claim, error)
	// FinishDelivery records the outcome of an attempt and, when fn is not
	// nil, applies fn to the delivery's request exactly as UpdateApproval
	// does — all in one transaction. It returns the request when fn ran.
	FinishDelivery(ctx context.Context, res DeliveryResult, fn func(*Request) (Change, error)) (*Request, error)
	// PendingDelivery returns the state of the request's unfinished webhook
	// delivery — attempts so far, the last error, when the next attempt is
	// due (while an attempt is in flight: when its lease ends) — or nil
	// when none is under way.
	PendingDelivery(ctx context.Context, requestID string) (*Delivery, error)
	// ClaimUnpublished leases up to limit events not yet published to the
	// event bus, oldest first, in the same way as ClaimDeliveries.
	ClaimUnpublished(ctx context.Context, now, leaseUntil time.Time, limit int) ([]OutboxRecord, error)
	// MarkPublished records that the events with these sequence numbers were published.
	MarkPublished(ctx context.Context, seqs []int64, now time.Time) error
	// DeleteOutboxBefore deletes events created before t whose webhook
	// delivery is finished (or that have none) and, when published is true,
	// that were published.
	DeleteOutboxBefore(ctx context.Context, t time.Time, published bool) (int64, error)
	// OutboxStats describes the deliveries not finished yet (for metrics).
	OutboxStats(ctx context.Context) (OutboxStats, error)

	// Changes returns a channel that receives a value, coalesced, after
	// changes are committed — by this process or, where the database can
	// tell, another. It is a wake-up hint, not a guarantee: readers still poll.
	Changes() <-chan struct{}
}

// Keys is the store of API keys.
type Keys interface {
	// CreateAPIKey stores a new API key, every field as given except that
	// an empty Origin is stored as KeyOriginAPI. A live key of the same name,
	// or with the same hash, is a KindConflict error; a revoked key's hash
	// may come back (the auth package decides which secrets may).
	CreateAPIKey(ctx context.Context, k APIKey) error
	// ReplaceAPIKey revokes the live key oldID at t and stores k as
	// CreateAPIKey does, in one transaction, so that the name never lacks a
	// live key and two processes doing the same replacement store one key.
	// When oldID is not live (revoked or unknown) nothing is written and the
	// error is KindNotFound; k's name or hash held by another live key is a
	// KindConflict error.
	ReplaceAPIKey(ctx context.Context, oldID string, k APIKey, t time.Time) error
	// APIKeyByHash returns the live (not revoked) key with the given hash.
	// It does not look at ExpiresAt: the caller checks expiry, so that it can
	// tell an expired key from an unknown one.
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	// ListAPIKeys returns every key, revoked ones included, oldest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey marks the key revoked at t; a revoked key stays revoked.
	RevokeAPIKey(ctx context.Context, id string, t time.Time) error
	// TouchAPIKey records that the key was used at t: it sets LastUsedAt to
	// t when it is unset or more than a minute before t, in one conditional
	// UPDATE, so that a busy key costs at most one write a minute. An
	// unknown id is not an error.
	TouchAPIKey(ctx context.Context, id string, t time.Time) error
	// RotateAPIKey replaces the hash and prefix of the key id, in place and
	// in one statement, and returns the key as it is afterwards: the id,
	// name, scopes, groups, origin and expiry stay, LastUsedAt is cleared
	// (it tells whether the new secret has been used). The key must be live
	// at t — neither revoked nor expired at or before t — or the error is
	// KindNotFound, as it is for an unknown id; a hash held by another live
	// key is a KindConflict error.
	RotateAPIKey(ctx context.Context, id, hash, prefix string, t time.Time) (*APIKey, error)
}

// Catalog is the store of service rules and stored policies.
type Catalog interface {
	// CreateServiceRule stores a new rule and sets its ID (a positive
	// integer, never reused) and times; a rule of the same name is a
	// conflict. A rule naming a policy that is not stored is a KindInvalid
	// error on field "policy". UpdateServiceRule checks the same.
	CreateServiceRule(ctx context.Context, r *ServiceRule) error
	// GetServiceRule returns the rule with the given name.
	GetServiceRule(ctx context.Context, name string) (*ServiceRule, error)
	// GetServiceRuleByID returns the rule with the given number.
	GetServiceRuleByID(ctx context.Context, id int64) (*ServiceRule, error)
	// ListServiceRules returns every rule by id.
	ListServiceRules(ctx context.Context) ([]ServiceRule, error)
	// UpdateServiceRule loads the rule, calls fn with it and stores the
	// result in one transaction (name and id cannot change).
	UpdateServiceRule(ctx context.Context, name string, fn func(*ServiceRule) error) (*ServiceRule, error)
	// DeleteServiceRule deletes the rule; while a request that is not final
	// names it, that is a KindConflict error.
	DeleteServiceRule(ctx context.Context, name string) error

	// CreatePolicy stores a new named policy (version 1); an existing name
	// is a KindConflict error.
	CreatePolicy(ctx context.Context, p *StoredPolicy) error
	// GetPolicy returns the stored policy with the given name.
	GetPolicy(ctx context.Context, name string) (*StoredPolicy, error)
	// ListPolicies returns every stored policy by name.
	ListPolicies(ctx context.Context) ([]StoredPolicy, error)
	// UpdatePolicy loads the policy, calls fn with it and stores the result
	// with the version incremented, in one transaction (the name cannot change).
	UpdatePolicy(ctx context.Context, name string, fn func(*StoredPolicy) error) (*StoredPolicy, error)
	// DeletePolicy deletes the policy; while a service rule names it, that
	// is a KindConflict error.
	DeletePolicy(ctx context.Context, name string) error
}

// Directory is the store of who is told what and who stands in for whom:
// notification channels and routes, contacts, mutes and delegations.
type Directory interface {
	// CreateChannel stores a new channel (version 1); an existing name is a
	// KindConflict error.
	CreateChannel(ctx context.Context, c *NotificationChannel) error
	// GetChannel returns the channel with the given name.
	GetChannel(ctx context.Context, name string) (*NotificationChannel, error)
	// ListChannels returns every channel by name.
	ListChannels(ctx context.Context) ([]NotificationChannel, error)
	// UpdateChannel loads the channel, calls fn with it and stores the
	// result with the version incremented, in one transaction (the name
	// cannot change).
	UpdateChannel(ctx context.Context, name string, fn func(*NotificationChannel) error) (*NotificationChannel, error)
	// DeleteChannel deletes the channel; while a route or a group's contact
	// names it, that is a KindConflict error.
	DeleteChannel(ctx context.Context, name string) error

	// CreateRoute stores a new route and sets its ID; a route naming a
	// channel that is not stored is a KindInvalid error on field "channel".
	CreateRoute(ctx context.Context, rt *NotificationRoute) error
	// ListRoutes returns every route by id.
	ListRoutes(ctx context.Context) ([]NotificationRoute, error)
	// DeleteRoute deletes the route with the given id.
	DeleteRoute(ctx context.Context, id int64) error

	// PutContact stores c under c.Key(), replacing a contact of the same
	// key unless that one's source takes precedence over c's (admin over
	// oidc over api_key), in which case nothing is written. A group's
	// contact naming a channel that is not stored is a KindInvalid error
	// on field "channel".
	PutContact(ctx context.Context, c Contact) error
	// Contacts returns the contacts with these keys (principals, and
	// "group:<name>" for groups); keys without one are absent.
	Contacts(ctx context.Context, keys []string) (map[string]Contact, error)
	// ListContacts returns every contact by key.
	ListContacts(ctx context.Context) ([]Contact, error)
	// DeleteContact deletes the contact with the given key.
	DeleteContact(ctx context.Context, key string) error
	// AdminContacts returns the contacts marked Admin.
	AdminContacts(ctx context.Context) ([]Contact, error)

	// SetMutes records the kinds principal does not want to be told of
	// (replacing the earlier set); Mutes returns them for several principals.
	SetMutes(ctx context.Context, principal string, kinds []NotifyKind) error
	Mutes(ctx context.Context, principals []string) (map[string][]NotifyKind, error)

	// CreateDelegation stores a new delegation (its ID set by the caller).
	CreateDelegation(ctx context.Context, d Delegation) error
	// GetDelegation returns the delegation with the given id.
	GetDelegation(ctx context.Context, id string) (*Delegation, error)
	// ListDelegations returns the delegations f selects, newest first.
	ListDelegations(ctx context.Context, f DelegationFilter) ([]Delegation, error)
	// RevokeDelegation marks the delegation revoked at t by whom; a revoked
	// delegation stays revoked (revoking it again changes nothing).
	RevokeDelegation(ctx context.Context, id, by string, t time.Time) (*Delegation, error)
	// ActiveDelegations returns the delegations to delegate active at t.
	ActiveDelegations(ctx context.Context, delegate string, t time.Time) ([]Delegation, error)
}

// Notifications is the queue of notifications: planned from the outbox
// events that call for one (OutboxRecord.Notify), sent in batches per
// target, retried with backoff.
type Notifications interface {
	// ClaimUnplanned leases up to limit outbox events with a Notify kind
	// that no notifier has planned yet, oldest first, as ClaimDeliveries
	// does: a claimed event is not offered again before leaseUntil.
	ClaimUnplanned(ctx context.Context, now, leaseUntil time.Time, limit int) ([]OutboxRecord, error)
	// PlanNotifications queues ns and marks the events seqs planned, in one
	// transaction; a notification whose Key is queued already is skipped.
	PlanNotifications(ctx context.Context, seqs []int64, ns []Notification, now time.Time) error
	// ClaimNotifications leases the queued notifications (neither sent nor
	// given up) of up to targets targets (Notification.Target) that have one
	// due — DueAt and NextAttempt at or before now — with every other queued
	// notification of those targets whose next attempt is due (so that a
	// batch goes out as one message), at most perTarget each, oldest first.
	// Claimed notifications' next attempt moves to leaseUntil.
	ClaimNotifications(ctx context.Context, now, leaseUntil time.Time, targets, perTarget int) ([]Notification, error)
	// FinishNotifications records the outcome of sending res.IDs.
	FinishNotifications(ctx context.Context, res NotificationResult) error
	// ListNotifications returns the notifications f selects, newest first.
	ListNotifications(ctx context.Context, f NotificationFilter) ([]Notification, error)
	// NotificationStats describes the queue.
	NotificationStats(ctx context.Context) (NotificationStats, error)
	// DeleteNotificationsBefore forgets notifications sent or given up
	// before t.
	DeleteNotificationsBefore(ctx context.Context, t time.Time) (int64, error)
}

// Filter selects requests for a list.
type Filter struct {
	Statuses    []Status // any of these; empty means all
	Requester   string
	ServiceRule string
	Subject     string
	Before      string // keyset cursor: only ids less than this canonical id (ids are time-ordered)
	Limit       int
}

// HistoryFilter selects history entries of every request for a list,
// oldest (lowest ID) first. The filters combine with AND.
type HistoryFilter struct {
	Actor     string    // only entries made by this principal, when set
	Action    Action    // only entries of this action, when set
	RequestID string    // only entries of this request (a canonical id), when set
	Since     time.Time // only entries at or after this time, when not zero
	Until     time.Time // only entries before this time, when not zero
	After     int64     // keyset cursor: only entries with IDs above this
	Limit     int
}

// ChainFilter selects requests for HistoryChains, by id.
type ChainFilter struct {
	After     string // keyset cursor: only requests with ids above this canonical id, when set
	RequestID string // only this request (a canonical id), when set
	Limit     int
}

// InboxQuery selects a reviewer's inbox.
type InboxQuery struct {
	Principal Principal // whose inbox: its id and groups matter
	After     string    // keyset cursor: only ids greater than this canonical id
	Limit     int
}

// Idempotency records the response to a create made with an Idempotency-Key,
// so that a retry gets the same response.
type Idempotency struct {
	Principal string
	Key       string
	BodyHash  string
	RequestID string
	Response  []byte
	CreatedAt time.Time
}

// Claim is a claimed webhook delivery: an outbox event and its target.
type Claim struct {
	OutboxRecord
	Rule     string // the service rule's name
	Attempts int    // attempts made before this one
}

// DeliveryResult is the outcome of one delivery attempt.
type DeliveryResult struct {
	Seq         int64
	Attempts    int       // attempts made, this one included
	Done        bool      // finished: delivered, or given up
	Delivered   bool      // the receiver took the decision (Done, no LastError)
	NextAttempt time.Time // when not Done: when to try again
	LastError   string    // "" after a success
}

// OutboxRecord is an event as stored in the outbox.
type OutboxRecord struct {
	Seq       int64
	ID        string // the event id, unique; receivers dedupe on it
	Type      string
	RequestID string
	Version   int64
	Data      []byte
	CreatedAt time.Time
	Webhook   string // the service rule to deliver to, if any
	// TraceParent is the W3C traceparent of the change that made the
	// event, "" when it was not traced.
	TraceParent string
	// Notify is the notification the change calls for, "" for none.
	Notify NotifyKind
}

// APIKey is a service credential. Only the hash of the secret is stored.
type APIKey struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Prefix string   `json:"prefix"`
	Hash   string   `json:"-"`
	Scopes []Scope  `json:"scopes"`
	Groups []string `json:"groups"`
	// Origin tells where the key comes from: KeyOriginAPI,
	// KeyOriginBootstrap or KeyOriginFile.
	Origin    string    `json:"origin"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the key stops working; nil means never.
	ExpiresAt *time.Time `json:"expires_at"`
	// LastUsedAt is when the key last authenticated a request, to within a
	// minute or so (writes are throttled); nil means never, or not since
	// the key was rotated.
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// The origins of API keys.
const (
	// KeyOriginAPI is a key created through the API; admins rotate and
	// revoke it through the API.
	KeyOriginAPI = "api"
	// KeyOriginBootstrap is the admin key from APPROVALD_ADMIN_KEY, or the
	// one generated at the first start; configuration manages it.
	KeyOriginBootstrap = "bootstrap"
	// KeyOriginFile is a key synced from a secret file; the file manages it.
	KeyOriginFile = "file"
)

// Expired reports whether the key has an expiry at or before now.
func (k APIKey) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// Principal returns the principal the key authenticates as: svc:<name>.
func (k APIKey) Principal() Principal {
	return Principal{ID: "svc:" + k.Name, Groups: k.Groups, Scopes: k.Scopes}
}

// OutboxStats describes the work left in the outbox: the events whose
// delivery to a service rule is not finished (delivered or given up).
type OutboxStats struct {
	Undelivered int64
	// OldestUndelivered is when the oldest of them was written (its
	// decision committed); zero when there is none.
	OldestUndelivered time.Time
}
