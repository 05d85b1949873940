package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"approvald/approval"
)

func TestWriteRequests_SameBytesAsEncodingThePage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var items []*approval.Request
	// U+2028, which JSON encoders escape, is refused in a title (a line
	// separator in a single-line field) but not in a description.
	for i, title := range []string{"Pay <invoice> & \"co\"", "Déploiement 2.0", "plain"} {
		r, _, err := approval.New("01890000-0000-7000-8000-00000000000"+string(rune('1'+i)), approval.Draft{
			Title: title, Description: "line \u2028 separator", Payload: json.RawMessage(`{"html":"<b>&</b>","n":[1,2.50,"x"]}`),
		}, approval.Principal{ID: "svc:billing", Scopes: []approval.Scope{approval.ScopeCreate}}, approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, now)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, r)
	}
	for _, tc := range []struct {
		items []*approval.Request
		next  string
	}{{nil, ""}, {items[:1], ""}, {items, "01890000-0000-7000-8000-000000000001"}} {
		w := httptest.NewRecorder()
		writeRequests(w, tc.items, tc.next)
		page := listPage[*approval.Request]{Items: tc.items}
		if page.Items == nil {
			page.Items = []*approval.Request{}
		}
		if tc.next != "" {
			c := base64.RawURLEncoding.EncodeToString([]byte(tc.next))
			page.NextCursor = &c
		}
		want, err := json.Marshal(page)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, '\n') // writeRaw ends every answer with one
		if !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("writeRequests wrote\n%q\nwant\n%q", w.Body.Bytes(), want)
		}
	}
}
