package delivery

import (
	"encoding/json"

	"approvald/approval"
	"approvald/webhook"
)

// EventJSON returns the JSON form of an outbox event that every channel
// carries — webhooks, NATS and the event stream alike:
// {"type","id","timestamp","data":{the request}}.
func EventJSON(rec approval.OutboxRecord) []byte {
	b, err := json.Marshal(webhook.Event{Type: rec.Type, ID: rec.ID, Timestamp: rec.CreatedAt, Data: rec.Data})
	if err != nil {
		// Data is JSON the store wrote; an event that does not marshal is a bug.
		panic("delivery: event does not marshal: " + err.Error())
	}
	return b
}
