package httpapi

import (
	"net/http"
	"net/url"
	"strconv"

	"approvald/approval"
)

// channelView is a notification channel as the API shows it: a chat
// channel's webhook URL only redacted (whoever has it can post), an email
// channel's password only by where it is read from (password_file,
// password_env) — the password itself is never stored.
type channelView struct {
	approval.NotificationChannel
	URL string `json:"url,omitempty"`
}

func viewChannel(c *approval.NotificationChannel) channelView {
	return channelView{NotificationChannel: *c, URL: c.RedactedURL()}
}

// channelBody is the body of POST /v1/notification-channels and PUT
// /v1/notification-channels/{name}.
type channelBody struct {
	Name  string                  `json:"name"`
	Type  approval.ChannelType    `json:"type"`
	Email *approval.EmailSettings `json:"email"`
	// URL is the chat webhook. Left out of a PUT (or given as the redacted
	// URL the API shows), a chat channel keeps the URL it has.
	URL *string `json:"url"`
}

func writeChannel(w http.ResponseWriter, status int, c *approval.NotificationChannel) {
	w.Header().Set("ETag", etag(c.Version))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, viewChannel(c))
}

func channelPath(name string) string { return "/v1/notification-channels/" + url.PathEscape(name) }

func (s *server) createChannel(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in channelBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	c := approval.NotificationChannel{Name: in.Name, Type: in.Type, Email: in.Email}
	if in.URL != nil {
		c.URL = *in.URL
	}
	created, err := s.Engine.CreateChannel(r.Context(), p, c)
	if err != nil {
		return err
	}
	w.Header().Set("Location", channelPath(created.Name))
	writeChannel(w, http.StatusCreated, created)
	return nil
}

func (s *server) listChannels(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	channels, err := s.Engine.Channels(r.Context(), p)
	if err != nil {
		return err
	}
	page := listPage[channelView]{Items: make([]channelView, len(channels))}
	for i := range channels {
		page.Items[i] = viewChannel(&channels[i])
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, page)
	return nil
}

func (s *server) getChannel(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	c, err := s.Engine.Channel(r.Context(), p, r.PathValue("name"))
	if err != nil {
		return err
	}
	writeChannel(w, http.StatusOK, c)
	return nil
}

// replaceChannel replaces a channel's type and settings; a name in the
// body must match the path. A chat channel's URL is kept when the body
// leaves it out or sends back the redacted URL the API showed, so that a
// channel read and sent back keeps its webhook.
func (s *server) replaceChannel(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in channelBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	name := r.PathValue("name")
	if in.Name != "" && in.Name != name {
		var v approval.Validation
		v.Add("name", "cannot be changed; create a new channel instead")
		return v.Err()
	}
	c, err := s.Engine.UpdateChannel(r.Context(), p, name, expect, func(c *approval.NotificationChannel) {
		keep := in.URL == nil || (*in.URL != "" && *in.URL == c.RedactedURL())
		c.Type, c.Email = in.Type, in.Email
		switch {
		case in.Type == approval.ChannelEmail && in.URL == nil:
			c.URL = ""
		case !keep:
			c.URL = *in.URL
		}
	})
	if err != nil {
		return err
	}
	writeChannel(w, http.StatusOK, c)
	return nil
}

func (s *server) deleteChannel(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := s.Engine.DeleteChannel(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// routeBody is the body of POST /v1/notification-routes.
type routeBody struct {
	Channel string                `json:"channel"`
	Events  []approval.NotifyKind `json:"events"`
	Scope   string                `json:"scope"`
}

func (s *server) createRoute(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in routeBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	rt, err := s.Engine.CreateRoute(r.Context(), p, approval.NotificationRoute{Channel: in.Channel, Events: in.Events, Scope: in.Scope})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/notification-routes/"+strconv.FormatInt(rt.ID, 10))
	writeJSON(w, http.StatusCreated, rt)
	return nil
}

func (s *server) listRoutes(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	routes, err := s.Engine.Routes(r.Context(), p)
	if err != nil {
		return err
	}
	if routes == nil {
		routes = []approval.NotificationRoute{}
	}
	writeJSON(w, http.StatusOK, listPage[approval.NotificationRoute]{Items: routes})
	return nil
}

func (s *server) deleteRoute(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return approval.NotFound("notification route")
	}
	if err := s.Engine.DeleteRoute(r.Context(), p, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// contactBody is the body of POST /v1/contacts: a principal's address, or
// a group's chat channel and member addresses.
type contactBody struct {
	Principal string   `json:"principal"`
	Email     string   `json:"email"`
	Group     string   `json:"group"`
	Emails    []string `json:"emails"`
	Channel   string   `json:"channel"`
	Admin     bool     `json:"admin"`
}

// putContact stores an admin's directory entry, replacing the entry of the
// same principal or group (whatever its source: the admin's takes
// precedence).
func (s *server) putContact(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in contactBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	c, err := s.Engine.PutContact(r.Context(), p, approval.Contact{
		Principal: in.Principal, Email: in.Email, Group: in.Group, Emails: in.Emails, Channel: in.Channel, Admin: in.Admin,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/contacts/"+url.PathEscape(c.Key()))
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (s *server) listContacts(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := unpaged(r); err != nil {
		return err
	}
	contacts, err := s.Engine.Contacts(r.Context(), p)
	if err != nil {
		return err
	}
	if contacts == nil {
		contacts = []approval.Contact{}
	}
	writeJSON(w, http.StatusOK, listPage[approval.Contact]{Items: contacts})
	return nil
}

func (s *server) deleteContact(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	if err := s.Engine.DeleteContact(r.Context(), p, r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// preferences is the body of GET and PUT /v1/me/notification-preferences.
type preferences struct {
	Muted []approval.NotifyKind `json:"muted"`
}

func (s *server) getPreferences(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	muted, err := s.Engine.Mutes(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preferences{Muted: muted})
	return nil
}

func (s *server) putPreferences(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	var in preferences
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	if in.Muted == nil {
		var v approval.Validation
		v.Add("muted", "is required: the kinds of notification not to receive ([] for none)")
		return v.Err()
	}
	muted, err := s.Engine.SetMutes(r.Context(), p, in.Muted)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, preferences{Muted: muted})
	return nil
}

// listNotifications lists the notification queue, newest first, for admins
// and auditors: what was sent, what waits, what failed and why.
func (s *server) listNotifications(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	q := r.URL.Query()
	var v approval.Validation
	f := approval.NotificationFilter{RequestID: q.Get("request_id"), Limit: parseLimit(&v, q.Get("limit"))}
	approval.CheckLine(&v, "request_id", f.RequestID, 64, false)
	switch q.Get("state") {
	case "":
	case "failed":
		f.Failed = true
	case "pending":
		f.Pending = true
	default:
		v.Add("state", `must be "failed" or "pending"`)
	}
	for name := range q {
		switch name {
		case "request_id", "state", "limit", "cursor":
		default:
			v.Add(name, "is not a filter of this list (request_id, state, limit and cursor are)")
		}
	}
	f.Before = parseNumberCursor(&v, q.Get("cursor"))
	if err := v.Err(); err != nil {
		return err
	}
	f.Limit++
	items, err := s.Engine.Notifications(r.Context(), p, f)
	if err != nil {
		return err
	}
	page := listPage[approval.Notification]{Items: items}
	if page.Items == nil {
		page.Items = []approval.Notification{}
	}
	if len(items) == f.Limit {
		page.Items = items[:f.Limit-1]
		page.NextCursor = numberCursor(page.Items[len(page.Items)-1].ID)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
