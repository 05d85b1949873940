package notify

import (
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/signedlink"
)

func TestConfig_ValidateFillsDefaultsAndNamesEveryBadField(t *testing.T) {
	t.Parallel()
	c := Config{PublicURL: "https://approvals.example.com/", Signer: signedlink.Random()}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://approvals.example.com" || c.LinkTTL != 7*24*time.Hour || c.MaxAttempts != 10 || c.Lease != 2*time.Minute || c.Now == nil || c.Logger == nil {
		t.Errorf("defaults = %+v", c)
	}
	bad := Config{PublicURL: "approvals.example.com?x=1", BatchWindow: -time.Second, MaxAttempts: -1, PersonalChannel: "no spaces", Lease: time.Second, SendTimeout: time.Minute}
	err := bad.Validate()
	var fields []string
	if e := approval.AsError(err); e != nil {
		for _, f := range e.Fields {
			fields = append(fields, f.Field)
		}
	}
	if got := strings.Join(fields, ","); got != "public_url,signer,batch_window,lease,personal_channel,max_attempts" {
		t.Errorf("fields = %q (err %v)", got, err)
	}
}

func TestBackoff_DoublesFrom30SecondsToAnHour(t *testing.T) {
	t.Parallel()
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 7: 32 * time.Minute, 8: time.Hour, 200: time.Hour} {
		if got := Backoff(attempts); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", attempts, got, want)
		}
	}
}
