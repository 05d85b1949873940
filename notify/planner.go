package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"approvald/approval"
	"approvald/signedlink"
)

// Planner turns outbox events that call for a notification into queued
// notifications. Any number of planners may run: claims are leased.
type Planner struct {
	st  Store
	cfg Config
}

// NewPlanner returns a Planner over st; it returns cfg's validation error.
func NewPlanner(st Store, cfg Config) (*Planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Planner{st: st, cfg: cfg}, nil
}

// Run plans with workers goroutines until ctx ends, waking on Config.Wake
// (the store's changes) and every Poll.
func (p *Planner) Run(ctx context.Context, workers int) {
	run(ctx, workers, wakeOf(p.st, p.cfg), p.cfg.Poll, p.PlanOnce, p.cfg.Logger, "planning notifications failed")
}

// PlanOnce claims a batch of unplanned events and queues their
// notifications, and returns how many events it planned. A store error
// leaves the events claimed: they are offered again when the lease ends.
func (p *Planner) PlanOnce(ctx context.Context) (int, error) {
	now := p.cfg.Now()
	recs, err := p.st.ClaimUnplanned(ctx, now, now.Add(p.cfg.PlanLease), p.cfg.Batch)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	routes, err := p.st.ListRoutes(ctx)
	if err != nil {
		return 0, err
	}
	channels, err := p.st.ListChannels(ctx)
	if err != nil {
		return 0, err
	}
	pc := p.personalChannel(channels)
	seqs := make([]int64, 0, len(recs))
	var ns []approval.Notification
	for _, rec := range recs {
		seqs = append(seqs, rec.Seq)
		planned, err := p.plan(ctx, rec, routes, channels, pc, now)
		if err != nil {
			return 0, err
		}
		ns = append(ns, planned...)
	}
	if err := p.st.PlanNotifications(ctx, seqs, ns, now); err != nil {
		return 0, err
	}
	return len(recs), nil
}

// personalChannel returns the email channel people's mail goes through,
// "" when there is none.
func (p *Planner) personalChannel(channels []approval.NotificationChannel) string {
	for _, c := range channels {
		if c.Type == approval.ChannelEmail && (p.cfg.PersonalChannel == "" || c.Name == p.cfg.PersonalChannel) {
			return c.Name
		}
	}
	if p.cfg.PersonalChannel != "" {
		p.cfg.Logger.Warn("the personal notification channel is not an email channel that exists: people get no mail", "channel", p.cfg.PersonalChannel)
	}
	return ""
}

// plan returns the notifications of one event. An event it cannot read is
// logged and planned with none; only a store error is returned.
func (p *Planner) plan(ctx context.Context, rec approval.OutboxRecord, routes []approval.NotificationRoute, channels []approval.NotificationChannel, personal string, now time.Time) ([]approval.Notification, error) {
	log := p.cfg.Logger.With("event", rec.ID, "request", rec.RequestID, "kind", string(rec.Notify))
	k := rec.Notify
	if !approval.ValidNotifyKind(k) {
		log.Warn("an outbox event calls for an unknown kind of notification: none is sent")
		return nil, nil
	}
	var r approval.Request
	if err := json.Unmarshal(rec.Data, &r); err != nil || r.ID == "" {
		log.Error("an outbox event's request does not decode: no notification is sent", "err", err)
		return nil, nil
	}
	rc := r.Recipients(k)

	// People: the recipients, their delegates, the admins; minus mutes.
	people := slices.Clone(rc.Principals)
	if k == approval.NotifyReviewRequested || k == approval.NotifyReminder || k == approval.NotifyEscalation {
		for _, pr := range rc.Principals {
			ds, err := p.st.ListDelegations(ctx, approval.DelegationFilter{Principal: pr, ActiveAt: now, Limit: maxDelegations})
			if err != nil {
				return nil, err
			}
			for _, d := range ds {
				// A delegate may not review the requester's own request
				// unless the policy allows self-review.
				if d.Delegator == pr && d.ActiveAt(now) && (d.Delegate != r.Requester || r.Policy.AllowSelfReview) {
					people = append(people, d.Delegate)
				}
			}
		}
	}
	groups := slices.Clone(rc.Groups)
	if k == approval.NotifyDeliveryFailed {
		admins, err := p.st.AdminContacts(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range admins {
			if a.Group != "" {
				groups = append(groups, a.Group)
			} else {
				people = append(people, a.Principal)
			}
		}
	}
	slices.Sort(people)
	people = slices.Compact(people)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	if len(people) > 0 {
		mutes, err := p.st.Mutes(ctx, people)
		if err != nil {
			return nil, err
		}
		people = slices.DeleteFunc(people, func(pr string) bool { return slices.Contains(mutes[pr], k) })
	}

	keys := slices.Clone(people)
	for _, g := range groups {
		keys = append(keys, approval.RouteGroup+g)
	}
	var contacts map[string]approval.Contact
	if len(keys) > 0 {
		var err error
		if contacts, err = p.st.Contacts(ctx, keys); err != nil {
			return nil, err
		}
	}
	chType := map[string]approval.ChannelType{}
	for _, c := range channels {
		chType[c.Name] = c.Type
	}

	var out []approval.Notification
	seen := map[string]bool{}
	add := func(recipient, keyRecipient, channel, address, link string) {
		key := approval.NotificationKey(r.ID, r.Version, keyRecipient, k)
		if seen[key] {
			return
		}
		seen[key] = true
		data, _ := json.Marshal(DataOf(&r, k, recipient, link)) // Data always marshals
		out = append(out, approval.Notification{Key: key, RequestID: r.ID, Version: r.Version, Kind: k,
			Recipient: recipient, Channel: channel, Address: address, Data: data,
			CreatedAt: now, DueAt: now.Add(p.cfg.BatchWindow), NextAttempt: now})
	}
	plain := p.cfg.PublicURL + "/ui/requests/" + url.PathEscape(r.ID)
	chat := func(recipient, channel string) {
		switch chType[channel] {
		case approval.ChannelSlack, approval.ChannelTeams:
			add(recipient, recipient, channel, "", plain)
		case approval.ChannelEmail:
			log.Warn("a route or group names an email channel, which needs addresses: use a group's emails instead", "channel", channel)
		default:
			log.Warn("a route or group names a channel that does not exist", "channel", channel)
		}
	}
	mail := func(recipient, keyRecipient, address, link string) {
		if personal == "" {
			log.Warn("no email channel: a notification is not mailed", "recipient", recipient)
			return
		}
		add(recipient, keyRecipient, personal, address, link)
	}
	for _, pr := range people {
		c, ok := contacts[pr]
		if !ok || c.Email == "" {
			log.Debug("a recipient has no contact address", "recipient", pr)
			continue
		}
		token := p.cfg.Signer.Sign(signedlink.Claims{RequestID: r.ID, Version: r.Version, Digest: r.Digest, Recipient: pr, Expires: now.Add(p.cfg.LinkTTL)})
		mail(pr, pr, c.Email, plain+"?link="+url.QueryEscape(token))
	}
	for _, g := range groups {
		c, ok := contacts[approval.RouteGroup+g]
		if !ok {
			continue
		}
		if c.Channel != "" {
			chat(channelRecipient(c.Channel), c.Channel)
		}
		for _, e := range c.Emails {
			// A group's member address is not a principal: its link has no
			// token (the reviewer signs in and finds the request).
			mail(approval.RouteGroup+g, fmt.Sprintf("%s%s/%s", approval.RouteGroup, g, e), e, plain)
		}
	}
	for _, rt := range routes {
		if rt.Matches(k, &r) {
			chat(channelRecipient(rt.Channel), rt.Channel)
		}
	}
	return out, nil
}

// channelRecipient returns the recipient of a channel's notifications.
func channelRecipient(channel string) string { return "channel:" + channel }

// maxDelegations bounds the active delegations read per recipient (those
// it gave and those it received: a store lists both).
const maxDelegations = 1000
