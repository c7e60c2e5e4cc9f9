package imapwatch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestXOAuth2ClientEncoding(t *testing.T) {
	c := NewXOAuth2Client("shared@example.jp", "ya29.token")
	mech, ir, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	if mech != "XOAUTH2" {
		t.Errorf("mechanism %q", mech)
	}
	if want := "user=shared@example.jp\x01auth=Bearer ya29.token\x01\x01"; string(ir) != want {
		t.Errorf("initial response %q, want %q", ir, want)
	}
	// The error challenge is acknowledged with an empty response.
	resp, err := c.Next([]byte(`{"status":"401"}`))
	if err != nil || resp == nil || len(resp) != 0 {
		t.Errorf("Next = %q, %v; want empty response", resp, err)
	}
}

func TestBackoffCappedAndJittered(t *testing.T) {
	minD, maxD := time.Second, time.Minute
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= 40; attempt++ {
		for range 20 {
			d := backoff(attempt, minD, maxD)
			ceil := min(minD<<min(attempt-1, 30), maxD)
			if d < ceil/2 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, ceil/2, ceil)
			}
			if attempt == 40 {
				seen[d] = true
			}
		}
	}
	if len(seen) < 2 {
		t.Errorf("no jitter at the cap")
	}
}

func TestSecretsRedacted(t *testing.T) {
	for _, s := range []string{
		Password("hunter2").String(),
		fmt.Sprintf("%v %+v %#v", Password("hunter2"), Config{Auth: Password("hunter2")}, Password("hunter2")),
		NewMicrosoftTokenSource("tenant", "id", "hunter2", nil).String(),
		NewGoogleTokenSource("id", "hunter2", "hunter2", nil).String(),
	} {
		if s == "" || strings.Contains(s, "hunter2") {
			t.Errorf("%q leaks a secret", s)
		}
	}
}
