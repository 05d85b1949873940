package web

import (
	"net/http"
	"strconv"
	"strings"

	"approvald/access"
	"approvald/approval"
)

// notificationsShown bounds each list of notifications on the channels page.
const notificationsShown = 50

// channelsData is the data of the notification channels page: the
// channels, the routes, and the notifications that failed or wait.
type channelsData struct {
	Channels []approval.NotificationChannel
	Routes   []approval.NotificationRoute
	Failed   []approval.Notification
	Pending  []approval.Notification
	Kinds    []approval.NotifyKind
	Done     string
	Error    string
	// Form is what was typed into a refused form, never a webhook URL.
	Form map[string]string
}

// Checked reports whether the refused route form had kind k ticked.
func (d channelsData) Checked(k approval.NotifyKind) bool { return d.Form["event:"+string(k)] != "" }

// channelsDone confirm the channel page's forms.
var channelsDone = map[string]string{
	"channel":        "The channel is created.",
	"delete-channel": "The channel is deleted.",
	"route":          "The route is created.",
	"delete-route":   "The route is deleted.",
}

// channels lists the notification channels and routes, with the forms that
// create them, and the notifications that failed or are pending.
func (s *server) channels(w http.ResponseWriter, r *http.Request, sess *session) error {
	return s.renderChannels(w, r, sess, http.StatusOK, channelsData{Done: channelsDone[r.URL.Query().Get("done")]})
}

func (s *server) renderChannels(w http.ResponseWriter, r *http.Request, sess *session, status int, d channelsData) error {
	ctx := r.Context()
	var err error
	if d.Channels, err = s.Engine.Channels(ctx, sess.P); err != nil {
		return err
	}
	if d.Routes, err = s.Engine.Routes(ctx, sess.P); err != nil {
		return err
	}
	if d.Failed, err = s.Engine.Notifications(ctx, sess.P, approval.NotificationFilter{Failed: true, Limit: notificationsShown}); err != nil {
		return err
	}
	if d.Pending, err = s.Engine.Notifications(ctx, sess.P, approval.NotificationFilter{Pending: true, Limit: notificationsShown}); err != nil {
		return err
	}
	d.Kinds = approval.NotifyKinds()
	s.render(w, r, sess, status, "channels", "Notification channels", d)
	return nil
}

// formError re-renders a page with a refusal the admin can fix (invalid
// input, a conflict), and returns any other error.
func formError(err error, rerender func(status int, msg string) error) error {
	if k := approval.KindOf(err); k != approval.KindInvalid && k != approval.KindConflict && k != approval.KindNotFound {
		return err
	}
	return rerender(statusOf(err), approval.AsError(err).Message)
}

// createChannel creates an email, Slack or Teams channel. The webhook URL
// and the SMTP password are never shown again: the URL only redacted, the
// password never (it is read from a file or a variable when sending).
func (s *server) createChannel(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := trimmedForm(r, "name", "type", "host", "port", "tls", "from", "username", "password_file", "password_env")
	c := approval.NotificationChannel{Name: form["name"], Type: approval.ChannelType(form["type"])}
	var v approval.Validation
	if c.Type == approval.ChannelEmail {
		c.Email = &approval.EmailSettings{Host: form["host"], TLS: form["tls"], From: form["from"], Username: form["username"],
			PasswordFile: form["password_file"], PasswordEnv: form["password_env"]}
		if p := form["port"]; p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				v.Add("email.port", "must be a whole number")
			}
			c.Email.Port = n
		}
	} else {
		c.URL = strings.TrimSpace(r.PostFormValue("url"))
	}
	err := v.Err()
	if err == nil {
		_, err = s.Engine.CreateChannel(r.Context(), sess.P, c)
	}
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderChannels(w, r, sess, status, channelsData{Error: msg, Form: form})
		})
	}
	access.Logger(r.Context()).Info("notification channel created in the UI", "channel", c.Name, "type", c.Type, "by", sess.P.ID)
	return redirect(w, r, "/ui/admin/channels?done=channel")
}

// deleteChannel deletes a channel that no route or group contact names.
func (s *server) deleteChannel(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.Engine.DeleteChannel(r.Context(), sess.P, r.PathValue("name")); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderChannels(w, r, sess, status, channelsData{Error: msg})
		})
	}
	access.Logger(r.Context()).Info("notification channel deleted in the UI", "channel", r.PathValue("name"), "by", sess.P.ID)
	return redirect(w, r, "/ui/admin/channels?done=delete-channel")
}

// createRoute creates a route: which kinds of notification (none ticked:
// all) about which requests go to a channel.
func (s *server) createRoute(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := map[string]string{"channel": r.PostFormValue("channel"), "scope_kind": r.PostFormValue("scope_kind"), "scope_name": strings.TrimSpace(r.PostFormValue("scope_name"))}
	rt := approval.NotificationRoute{Channel: form["channel"], Events: []approval.NotifyKind{}}
	for _, k := range r.PostForm["events"] {
		rt.Events = append(rt.Events, approval.NotifyKind(k))
		form["event:"+k] = "on"
	}
	switch form["scope_kind"] {
	case "", approval.RouteAll:
		rt.Scope = approval.RouteAll
	default:
		rt.Scope = form["scope_kind"] + form["scope_name"]
	}
	if _, err := s.Engine.CreateRoute(r.Context(), sess.P, rt); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderChannels(w, r, sess, status, channelsData{Error: msg, Form: form})
		})
	}
	return redirect(w, r, "/ui/admin/channels?done=route")
}

// deleteRoute deletes a route.
func (s *server) deleteRoute(w http.ResponseWriter, r *http.Request, sess *session) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return approval.NotFound("route")
	}
	if err := s.Engine.DeleteRoute(r.Context(), sess.P, id); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderChannels(w, r, sess, status, channelsData{Error: msg})
		})
	}
	return redirect(w, r, "/ui/admin/channels?done=delete-route")
}

// contactsData is the data of the contacts page.
type contactsData struct {
	Contacts []approval.Contact
	Channels []string
	Done     string
	Error    string
	Form     map[string]string
}

// contacts lists the directory: people's addresses (set by admins,
// remembered from OIDC sign-ins or API keys) and groups' channels and
// addresses.
func (s *server) contacts(w http.ResponseWriter, r *http.Request, sess *session) error {
	d := contactsData{}
	switch r.URL.Query().Get("done") {
	case "set":
		d.Done = "The contact is saved."
	case "delete":
		d.Done = "The contact is deleted."
	}
	return s.renderContacts(w, r, sess, http.StatusOK, d)
}

func (s *server) renderContacts(w http.ResponseWriter, r *http.Request, sess *session, status int, d contactsData) error {
	var err error
	if d.Contacts, err = s.Engine.Contacts(r.Context(), sess.P); err != nil {
		return err
	}
	chans, err := s.Engine.Channels(r.Context(), sess.P)
	if err != nil {
		return err
	}
	for _, c := range chans {
		d.Channels = append(d.Channels, c.Name)
	}
	s.render(w, r, sess, status, "contacts", "Contacts", d)
	return nil
}

// setContact stores an admin's directory entry for a principal (an email
// address) or a group (a channel and/or member addresses).
func (s *server) setContact(w http.ResponseWriter, r *http.Request, sess *session) error {
	form := trimmedForm(r, "kind", "name", "email", "emails", "channel", "admin")
	c := approval.Contact{Admin: form["admin"] != ""}
	if form["kind"] == "group" {
		c.Group, c.Channel = form["name"], form["channel"]
		for e := range strings.FieldsFuncSeq(form["emails"], func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ';' }) {
			c.Emails = append(c.Emails, e)
		}
	} else {
		c.Principal, c.Email = form["name"], form["email"]
	}
	if _, err := s.Engine.PutContact(r.Context(), sess.P, c); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderContacts(w, r, sess, status, contactsData{Error: msg, Form: form})
		})
	}
	return redirect(w, r, "/ui/admin/contacts?done=set")
}

// deleteContact deletes the directory entry named by the form's key (a
// principal, or group:<name>).
func (s *server) deleteContact(w http.ResponseWriter, r *http.Request, sess *session) error {
	if err := s.Engine.DeleteContact(r.Context(), sess.P, r.PostFormValue("key")); err != nil {
		return formError(err, func(status int, msg string) error {
			return s.renderContacts(w, r, sess, status, contactsData{Error: msg})
		})
	}
	return redirect(w, r, "/ui/admin/contacts?done=delete")
}
