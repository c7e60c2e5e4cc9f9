package advice

import (
	"slices"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// The auth-check topic marks the IT person's SPF/DKIM/DMARC checks, the
// same in both languages of an entry, so that a notice whose checks passed
// drops them whatever its language.
func TestCatalogAuthCheckTopic(t *testing.T) {
	c := loadCatalog()
	marked := 0
	for where, e := range allEntries(c) {
		var topics [2][]Topic
		for i, tx := range []*entryText{e.JA, e.EN} {
			for _, a := range tx.Actions {
				topics[i] = append(topics[i], a.Topic)
				if a.Topic != TopicAuthCheck {
					continue
				}
				marked++
				if a.Actor != ActorIT {
					t.Errorf("%s: auth-check action of %s, want it: %s", where, a.Actor, a.Text)
				}
				if !strings.Contains(a.Text, "SPF") && !strings.Contains(a.Text, "DKIM") {
					t.Errorf("%s: auth-check action names neither SPF nor DKIM: %s", where, a.Text)
				}
			}
		}
		if !slices.Equal(topics[0], topics[1]) {
			t.Errorf("%s: topics differ between ja %v and en %v", where, topics[0], topics[1])
		}
	}
	if marked == 0 {
		t.Fatal("no action is marked auth-check")
	}
}

// The topic reaches the advice a notice is built from.
func TestAdviceCarriesTopic(t *testing.T) {
	rc := bounce.Recipient{Address: "user@outlook.jp", Action: bounce.ActionFailed, Status: "5.7.515",
		Reason: bounce.ReasonAuthFailure, Provider: bounce.ProviderMicrosoft,
		Diagnostic: "550 5.7.515 Access denied, sending domain example.co.jp doesn't meet the required authentication level."}
	a := ForRecipient(&bounce.Report{}, rc, Japanese)
	n := 0
	for _, act := range a.Actions {
		if act.Topic == TopicAuthCheck {
			n++
		}
	}
	if n == 0 {
		t.Errorf("the advice on an authentication failure has no auth-check action: %+v", a.Actions)
	}
}

func TestParseCatalogRejectsUnknownTopic(t *testing.T) {
	data := strings.Replace(string(textsYAML), "topic: auth-check", "topic: auth-chek", 1)
	if _, err := parseCatalog([]byte(data)); err == nil || !strings.Contains(err.Error(), "auth-chek") {
		t.Errorf("a misspelt topic: %v, want an error naming it", err)
	}
}
