package advice

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
)

// exampleMail is the repository's fixtures (written by us, RFC 5737 / 2606).
const exampleMail = "../../testdata/mail"

// analyzeFixture parses one fixture and returns its report and first recipient.
func analyzeFixture(t *testing.T, name string) (*bounce.Report, bounce.Recipient) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(exampleMail, name))
	if err != nil {
		t.Fatal(err)
	}
	rep := bounce.Analyze(raw)
	if len(rep.Recipients) == 0 {
		t.Fatalf("%s: no recipients", name)
	}
	return rep, rep.Recipients[0]
}

// TestIssue11Examples runs the examples issue 11 names from real fixtures
// through the parser, the incident key and the advice, as the daemon does.
func TestIssue11Examples(t *testing.T) {
	type ex struct {
		rep *bounce.Report
		rc  bounce.Recipient
		a   Advice
		key incident.Key
	}
	load := func(name string, edit ...func(*bounce.Recipient)) ex {
		rep, rc := analyzeFixture(t, name)
		for _, e := range edit {
			e(&rc)
		}
		return ex{rep, rc, ForRecipient(rep, rc, Japanese), incident.KeyOf(rep, rc)}
	}
	hasLink := func(a Advice, host string) bool {
		for _, l := range a.Links {
			if strings.HasPrefix(l.URL, "https://"+host) {
				return true
			}
		}
		return false
	}

	// S775 (4xx, still retried), S3140 and a Microsoft 365 tenant's 5.7.606
	// are three incidents, each with its own state and links.
	s775 := load("heteml-outlookjp-ratelimit-delayed.eml")
	s3140 := load("outlook-s3140-blocked.eml")
	m365 := load("exchange-banned-sending-ip.eml")
	if s775.key == s3140.key || s3140.key == m365.key || s775.key == m365.key {
		t.Errorf("S775, S3140 and 5.7.606 share a key: %v %v %v", s775.key, s3140.key, m365.key)
	}
	if s775.a.Delivery != DeliveryRetrying || s3140.a.Delivery != DeliveryFailed || m365.a.Delivery != DeliveryFailed {
		t.Errorf("delivery S775 %s, S3140 %s, 5.7.606 %s; want retrying, failed, failed", s775.a.Delivery, s3140.a.Delivery, m365.a.Delivery)
	}
	if !hasLink(s3140.a, "support.microsoft.com/supportrequestform") || hasLink(s3140.a, "sender.office.com") {
		t.Errorf("S3140 links %v, want the Outlook.com form and not the 365 delist portal", s3140.a.Links)
	}
	if !hasLink(m365.a, "sender.office.com") || hasLink(m365.a, "support.microsoft.com/supportrequestform") {
		t.Errorf("5.7.606 links %v, want the 365 delist portal and not the Outlook.com form", m365.a.Links)
	}
	if !hasLink(s775.a, "postmaster.live.com") {
		t.Errorf("S775 links %v, want Outlook.com's postmaster page", s775.a.Links)
	}

	// A mail that expired after days of retries is not a greylisting delay,
	// and is never told it will arrive.
	expired := load("expired-connection-timeout.eml")
	grey := load("greylisted-delayed.eml")
	if expired.key == grey.key {
		t.Errorf("expired and greylisting share a key: %v", expired.key)
	}
	if expired.a.Delivery != DeliveryExpired || kwWillArrive.says(Japanese, expired.a.Text()) {
		t.Errorf("expired mail (%s) told it may arrive:\n%s", expired.a.Delivery, expired.a.Text())
	}
	// A greylisting that gave up never says no action is needed.
	gaveUp := load("greylisted-delayed.eml", func(rc *bounce.Recipient) { rc.Action = bounce.ActionFailed })
	if gaveUp.a.Delivery != DeliveryExpired || kwNoAction.says(Japanese, gaveUp.a.Text()) || kwWillArrive.says(Japanese, gaveUp.a.Text()) {
		t.Errorf("greylisting that gave up (%s):\n%s", gaveUp.a.Delivery, gaveUp.a.Text())
	}

	// Host unknown, null MX and user unknown are each their own cause, and
	// none is told the address has moved.
	seen := map[bounce.Reason]string{}
	for _, f := range []string{"postfix-hostunknown.eml", "postfix-nullmx-notaccept.eml", "postfix-userunknown.eml"} {
		e := load(f)
		if prev, ok := seen[e.rc.Reason]; ok {
			t.Errorf("%s and %s share the reason %s", prev, f, e.rc.Reason)
		}
		seen[e.rc.Reason] = f
		if e.rc.Reason == bounce.ReasonHasMoved || strings.Contains(e.a.Text(), "移転") {
			t.Errorf("%s (%s) told the address moved:\n%s", f, e.rc.Reason, e.a.Text())
		}
		if e.key.Side != incident.SideRecipient || incident.TaskOf(e.key.Cause) != incident.TaskAddress {
			t.Errorf("%s: key %+v, want a recipient item under the address task", f, e.key)
		}
	}
	// A message too big is not a full mailbox.
	big := load("postfix-mesgtoobig.eml")
	if big.rc.Reason != bounce.ReasonMesgTooBig || incident.TaskOf(big.key.Cause) != incident.TaskMessage ||
		strings.Contains(big.a.Title, "満杯") || strings.Contains(big.a.Explanation, "容量がいっぱい") {
		t.Errorf("message too big (%s, task %s): %s / %s", big.rc.Reason, incident.TaskOf(big.key.Cause), big.a.Title, big.a.Explanation)
	}
	// A delayed full mailbox never advises to resend (the retry may still
	// deliver it, and a resend would make two).
	quota := load("postfix-overquota-452-delayed.eml")
	if quota.a.Delivery != DeliveryRetrying || kwResend.says(Japanese, quota.a.Text()) {
		t.Errorf("delayed over-quota (%s) advises a resend:\n%s", quota.a.Delivery, quota.a.Text())
	}
	// Roles: phoning the recipient is the sender's; asking the hosting
	// company is the IT person's.
	for _, e := range []ex{s775, s3140, m365, expired, quota, big} {
		for _, p := range roleMistakes(e.a) {
			t.Errorf("%s: %s", e.rc.Address, p)
		}
		for _, ac := range e.a.Actions {
			if strings.Contains(ac.Text, "電話") && ac.Actor != ActorSender {
				t.Errorf("%s: phoning given to %s: %s", e.rc.Address, ac.Actor, ac.Text)
			}
			if strings.Contains(ac.Text, "レンタルサーバー会社に") && ac.Actor != ActorIT {
				t.Errorf("%s: asking the hosting company given to %s: %s", e.rc.Address, ac.Actor, ac.Text)
			}
		}
		if strings.Contains(e.a.Headline, "相手のメールサービス宛て") {
			t.Errorf("placeholder in the headline: %s", e.a.Headline)
		}
	}
}
