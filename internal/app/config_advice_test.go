package app_test

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// The office's hosting company (name and support page) reaches the advice
// where the hosting company must act, and only an https page is accepted.
func TestHostingSettingShapesTheAdvice(t *testing.T) {
	t.Setenv("BOUNCEWATCH_HOSTING_NAME", "ヘテムル")
	t.Setenv("BOUNCEWATCH_HOSTING_SUPPORT_URL", "https://support.example.jp/mail/")
	c, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "203.0.113.25"}
	rc := bounce.Recipient{Address: "user@outlook.jp", Action: bounce.ActionFailed, Status: "5.7.1", ReplyCode: "550",
		Reason: bounce.ReasonBlocked, Provider: bounce.ProviderMicrosoft, RemoteMTA: "apc.olc.protection.outlook.com",
		Diagnostic: "550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140)."}
	a := advice.ForRecipient(rep, rc, advice.Japanese, c.AdviceOptions()...)
	var it string
	for _, ac := range a.Actions {
		if ac.Actor == advice.ActorIT {
			it += ac.Text
		}
	}
	if !strings.Contains(it, "ヘテムルに") {
		t.Errorf("the IT action does not name the hosting company: %q", it)
	}
	if len(a.Links) == 0 || a.Links[0].URL != "https://support.example.jp/mail/" || !strings.Contains(a.Links[0].Title, "ヘテムル") {
		t.Errorf("the hosting company's page is not linked first: %+v", a.Links)
	}
	// A recipient-side problem does not link the hosting company.
	rc = bounce.Recipient{Address: "nobody@gmail.com", Action: bounce.ActionFailed, Status: "5.1.1", Reason: bounce.ReasonUserUnknown, Provider: bounce.ProviderGoogle}
	for _, l := range advice.ForRecipient(rep, rc, advice.Japanese, c.AdviceOptions()...).Links {
		if strings.Contains(l.URL, "support.example.jp") {
			t.Errorf("hosting page linked for an unknown user: %+v", l)
		}
	}

	c = app.Config{IMAPAddr: "imap.example.jp:993", IMAPUsername: "u", IMAPPassword: "p", IMAPAuth: "password",
		Notify: "stdout", IMAPProbe: c.IMAPProbe, HostingURL: "http://support.example.jp/"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "HOSTING_SUPPORT_URL") {
		t.Errorf("Validate accepted a plain-http support page: %v", err)
	}
	c.HostingURL = "https://support.example.jp/"
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
