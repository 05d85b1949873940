package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// maxDigestItems bounds how many notifications one chat message lists;
// the rest are counted. (Slack allows 50 blocks, Teams cards ~28 KB.)
const maxDigestItems = 20

// Email is a rendered mail: its subject and both of its parts.
type Email struct {
	Subject string
	Text    string
	HTML    string
}

// subject returns the subject of a message listing items.
func subject(items []Data) string {
	if len(items) == 1 {
		return "[approvald] " + items[0].Heading()
	}
	return fmt.Sprintf("[approvald] %d notifications about approval requests", len(items))
}

const textTmpl = `{{if gt (len .) 1}}{{len .}} notifications about approval requests:

{{end}}{{range $i, $d := .}}{{if $i}}
----
{{end}}{{$d.Heading}}
{{range $d.Facts}}{{index . 0}}: {{index . 1}}
{{end}}
Open the request: {{$d.URL}}
{{end}}
Deciding still requires you to sign in.
`

const htmlTmpl = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; color: #1f2328;">
{{if gt (len .Items) 1}}<p>{{len .Items}} notifications about approval requests:</p>{{end}}
{{range .Items}}<div style="border: 1px solid #d0d7de; border-radius: 6px; padding: 12px; margin: 0 0 12px 0;">
<h2 style="font-size: 16px; margin: 0 0 8px 0;">{{.Label}}: {{.DisplayTitle}}</h2>
<table style="border-collapse: collapse; font-size: 14px;">
{{range .Facts}}<tr><th style="text-align: left; padding: 2px 12px 2px 0;">{{index . 0}}</th><td style="padding: 2px 0;">{{index . 1}}</td></tr>
{{end}}</table>
<p style="margin: 12px 0 0 0;"><a href="{{.URL}}" style="background: #0969da; color: #ffffff; padding: 6px 12px; border-radius: 6px; text-decoration: none;">Open the request</a></p>
</div>
{{end}}<p style="font-size: 12px; color: #656d76;">Deciding still requires you to sign in.</p>
</body></html>
`

var (
	textMail = texttemplate.Must(texttemplate.New("text").Parse(textTmpl))
	htmlMail = htmltemplate.Must(htmltemplate.New("html").Parse(htmlTmpl))
)

// RenderEmail returns the mail telling of items (one, or a digest of
// several for one recipient). The HTML part escapes every value.
func RenderEmail(items []Data) (Email, error) {
	if len(items) == 0 {
		return Email{}, fmt.Errorf("notify: nothing to render")
	}
	m := Email{Subject: subject(items)}
	var tb, hb bytes.Buffer
	if err := textMail.Execute(&tb, items); err != nil {
		return Email{}, fmt.Errorf("notify: rendering the text part: %w", err)
	}
	if err := htmlMail.Execute(&hb, struct {
		Subject string
		Items   []Data
	}{m.Subject, items}); err != nil {
		return Email{}, fmt.Errorf("notify: rendering the HTML part: %w", err)
	}
	m.Text, m.HTML = tb.String(), hb.String()
	return m, nil
}

// Slack Block Kit, as incoming webhooks take it
// (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
type (
	slackMessage struct {
		Text   string       `json:"text"`
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type      string       `json:"type"`
		Text      *slackText   `json:"text,omitempty"`
		Elements  []any        `json:"elements,omitempty"`
		Accessory *slackButton `json:"accessory,omitempty"`
	}
	slackText struct {
		Type string `json:"type"` // mrkdwn or plain_text
		Text string `json:"text"`
	}
	slackButton struct {
		Type     string    `json:"type"` // button
		Text     slackText `json:"text"`
		URL      string    `json:"url"`
		ActionID string    `json:"action_id,omitempty"`
	}
)

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// SlackPayload returns the incoming-webhook JSON telling of items: a
// plain-text fallback and Block Kit blocks (a section, a context line and a
// button to the request for one; a section with a button per request for a
// digest).
func SlackPayload(items []Data) ([]byte, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("notify: nothing to render")
	}
	msg := slackMessage{Text: slackEscape(oneLine(subject(items), 300))}
	if len(items) == 1 {
		d := items[0]
		msg.Blocks = []slackBlock{
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*" + slackEscape(oneLine(d.Label(), 100)) + "*: " + slackEscape(oneLine(d.DisplayTitle(), 2500))}},
			{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: slackEscape(oneLine(factLine(d), 2900))}}},
			{Type: "actions", Elements: []any{slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: "Open request"}, URL: d.URL, ActionID: "open_request"}}},
		}
		return json.Marshal(msg)
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: fmt.Sprintf("*%d notifications about approval requests*", len(items))}})
	for i, d := range items {
		if i == maxDigestItems {
			msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []any{slackText{Type: "mrkdwn", Text: fmt.Sprintf("and %d more", len(items)-i)}}})
			break
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section",
			Text:      &slackText{Type: "mrkdwn", Text: "*" + slackEscape(oneLine(d.Label(), 100)) + "*: " + slackEscape(oneLine(d.DisplayTitle(), 1000)) + "\n" + slackEscape(oneLine(factLine(d), 1500))},
			Accessory: &slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: "Open"}, URL: d.URL, ActionID: fmt.Sprintf("open_request_%d", i)}})
	}
	return json.Marshal(msg)
}

// factLine returns d's facts on one line.
func factLine(d Data) string {
	var parts []string
	for _, f := range d.Facts() {
		parts = append(parts, f[0]+": "+f[1])
	}
	return strings.Join(parts, " · ")
}

// Teams: a Workflows webhook takes a message with an Adaptive Card
// attachment (https://adaptivecards.io/explorer/, schema 1.4).
type (
	teamsMessage struct {
		Type        string            `json:"type"` // message
		Attachments []teamsAttachment `json:"attachments"`
	}
	teamsAttachment struct {
		ContentType string       `json:"contentType"`
		ContentURL  *string      `json:"contentUrl"`
		Content     adaptiveCard `json:"content"`
	}
	adaptiveCard struct {
		Schema  string `json:"$schema"`
		Type    string `json:"type"` // AdaptiveCard
		Version string `json:"version"`
		Body    []any  `json:"body"`
		Actions []any  `json:"actions,omitempty"`
		MSTeams any    `json:"msteams,omitempty"`
	}
	cardText struct {
		Type   string `json:"type"` // TextBlock
		Text   string `json:"text"`
		Wrap   bool   `json:"wrap"`
		Weight string `json:"weight,omitempty"`
		Size   string `json:"size,omitempty"`
	}
	cardFact struct {
		Title string `json:"title"`
		Value string `json:"value"`
	}
	cardFactSet struct {
		Type  string     `json:"type"` // FactSet
		Facts []cardFact `json:"facts"`
	}
	cardOpenURL struct {
		Type  string `json:"type"` // Action.OpenUrl
		Title string `json:"title"`
		URL   string `json:"url"`
	}
	cardActionSet struct {
		Type    string `json:"type"` // ActionSet
		Actions []any  `json:"actions"`
	}
)

// AdaptiveCardContentType is the content type of a Teams attachment that
// holds an Adaptive Card.
const AdaptiveCardContentType = "application/vnd.microsoft.card.adaptive"

// teamsEscape keeps Teams' markdown subset from reading values as markup.
func teamsEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`").Replace(s)
}

// TeamsPayload returns the Workflows-webhook JSON telling of items: a
// message with one Adaptive Card 1.4 whose body holds, per notification, a
// TextBlock heading and a FactSet, and a button (Action.OpenUrl) to the
// request.
func TeamsPayload(items []Data) ([]byte, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("notify: nothing to render")
	}
	card := adaptiveCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		MSTeams: map[string]string{"width": "Full"}}
	if len(items) > 1 {
		card.Body = append(card.Body, cardText{Type: "TextBlock", Text: fmt.Sprintf("%d notifications about approval requests", len(items)), Wrap: true, Weight: "Bolder", Size: "Large"})
	}
	for i, d := range items {
		if i == maxDigestItems {
			card.Body = append(card.Body, cardText{Type: "TextBlock", Text: fmt.Sprintf("and %d more", len(items)-i), Wrap: true})
			break
		}
		card.Body = append(card.Body, cardText{Type: "TextBlock", Text: teamsEscape(oneLine(d.Heading(), 300)), Wrap: true, Weight: "Bolder", Size: "Medium"})
		var facts []cardFact
		for _, f := range d.Facts() {
			facts = append(facts, cardFact{Title: f[0], Value: teamsEscape(oneLine(f[1], 500))})
		}
		card.Body = append(card.Body, cardFactSet{Type: "FactSet", Facts: facts})
		open := cardOpenURL{Type: "Action.OpenUrl", Title: "Open request", URL: d.URL}
		if len(items) == 1 {
			card.Actions = []any{open}
		} else {
			card.Body = append(card.Body, cardActionSet{Type: "ActionSet", Actions: []any{open}})
		}
	}
	return json.Marshal(teamsMessage{Type: "message", Attachments: []teamsAttachment{{ContentType: AdaptiveCardContentType, Content: card}}})
}
