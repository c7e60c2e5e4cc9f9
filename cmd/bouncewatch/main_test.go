package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/demo"
)

// The README's configuration table is generated from app.Config; it must
// match what `bouncewatch env --markdown` prints now.
func TestREADMEEnvTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "<!-- env-table:start -->\n")
	j := strings.Index(s, "<!-- env-table:end -->")
	if i < 0 || j < i {
		t.Fatal("README lacks the env-table markers")
	}
	got := s[i+len("<!-- env-table:start -->\n") : j]
	if want := envMarkdown(); got != want {
		t.Errorf("README configuration table is stale; replace it with `bouncewatch env --markdown`:\n%s", want)
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n")[2:] {
		cols := strings.Split(line, " | ")
		if len(cols) < 3 || strings.TrimSpace(strings.TrimSuffix(cols[len(cols)-1], "|")) == "" {
			t.Errorf("variable without description: %s", line)
		}
	}
}

func TestTriageJSONContract(t *testing.T) {
	var out, errb bytes.Buffer
	f := filepath.Join("..", "..", "testdata", "mail", "heteml-outlookjp-ratelimit-failed.eml")
	neg := filepath.Join("..", "..", "testdata", "mail", "neg-ooo-english.eml")
	if code := run([]string{"triage", "--json", f, neg, "no-such-file.eml"}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1 (one file unreadable); stderr %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want one per file:\n%s", len(lines), out.String())
	}
	var first struct {
		File       string `json:"file"`
		Kind       string `json:"kind"`
		SendingIP  string `json:"sending_ip"`
		Recipients []struct {
			Address, Reason, Status, Provider string
			Temporary                         bool
		} `json:"recipients"`
		Original struct {
			Subject string `json:"subject"`
		} `json:"original"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if first.File != f || first.Kind != "bounce" || first.SendingIP != "203.0.113.25" || len(first.Recipients) != 1 {
		t.Fatalf("unexpected first line: %s", lines[0])
	}
	r := first.Recipients[0]
	if r.Address != "taro.example@outlook.jp" || r.Reason != "badreputation" || r.Status != "4.7.650" || r.Provider != "microsoft" || !r.Temporary {
		t.Errorf("recipient = %+v", r)
	}
	var last struct{ Kind, Error string }
	json.Unmarshal([]byte(lines[2]), &last)
	if last.Kind != "none" || last.Error == "" {
		t.Errorf("unreadable file: %s", lines[2])
	}
	if !strings.Contains(lines[1], `"kind":"autoreply"`) {
		t.Errorf("out-of-office: %s", lines[1])
	}
}

// TestTriageJSONAdvice checks the advice object of each recipient: the
// delivery state agrees with the report, actions say who acts, and a delayed
// mail is never told to be sent again.
func TestTriageJSONAdvice(t *testing.T) {
	type adviceJSON struct {
		Headline    string `json:"headline"`
		Summary     string `json:"summary"`
		Delivery    string `json:"delivery"`
		Explanation string `json:"explanation"`
		Actions     []struct {
			Who   string `json:"who"`
			Text  string `json:"text"`
			Short string `json:"short"`
		} `json:"actions"`
		Links []struct{ Title, URL string } `json:"links"`
	}
	mail := filepath.Join("..", "..", "testdata", "mail")
	for _, tc := range []struct {
		file, delivery string
		who            []string // every one must appear
		resend         bool     // an action advises to send again
	}{
		{"heteml-outlookjp-ratelimit-failed.eml", "expired", []string{"it", "hosting", "sender"}, true},
		{"heteml-outlookjp-ratelimit-delayed.eml", "retrying", []string{"it", "hosting", "sender"}, false},
		{"postfix-overquota-452-delayed.eml", "retrying", []string{"sender"}, false},
		{"greylisted-delayed.eml", "retrying", []string{"sender"}, false},
		{"docomo-filtered-data.eml", "failed", []string{"sender", "recipient"}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Setenv("BOUNCEWATCH_HOSTING_NAME", "ヘテムル")
			t.Setenv("BOUNCEWATCH_HOSTING_SUPPORT_URL", "https://support.example.jp/")
			var out, errb bytes.Buffer
			if code := run([]string{"triage", "--json", filepath.Join(mail, tc.file)}, nil, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var line struct {
				Recipients []struct {
					Address string     `json:"address"`
					Reason  string     `json:"reason"`
					Advice  adviceJSON `json:"advice"`
				} `json:"recipients"`
			}
			if err := json.Unmarshal(out.Bytes(), &line); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if len(line.Recipients) == 0 {
				t.Fatalf("no recipients: %s", out.String())
			}
			for _, r := range line.Recipients {
				a := r.Advice
				if a.Delivery != tc.delivery || a.Headline == "" || a.Summary == "" || a.Explanation == "" {
					t.Errorf("%s: advice = %+v, want delivery %s", r.Address, a, tc.delivery)
				}
				who := map[string]bool{}
				resend := false
				for _, ac := range a.Actions {
					who[ac.Who] = true
					if ac.Text == "" || ac.Short == "" {
						t.Errorf("%s: empty action text: %+v", r.Address, ac)
					}
					if strings.Contains(ac.Text, "送り直してください") {
						resend = true
					}
				}
				for _, w := range tc.who {
					if !who[w] {
						t.Errorf("%s: no action for %s: %+v", r.Address, w, a.Actions)
					}
				}
				if resend != tc.resend {
					t.Errorf("%s (%s): advises to resend = %v, want %v", r.Address, a.Delivery, resend, tc.resend)
				}
				if who["it"] && strings.Contains(fmt.Sprint(a.Actions), "ヘテムル") {
					if len(a.Links) == 0 || a.Links[0].URL != "https://support.example.jp/" {
						t.Errorf("%s: the hosting company's page is not linked: %+v", r.Address, a.Links)
					}
				}
			}
		})
	}
}

func TestTriageHumanJapanese(t *testing.T) {
	var out, errb bytes.Buffer
	f := filepath.Join("..", "..", "testdata", "mail", "heteml-outlookjp-ratelimit-failed.eml")
	if code := run([]string{"triage", f}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	for _, want := range []string{"Microsoft(Outlook)", "203.0.113.25", "IPレピュテーション", "レンタルサーバー会社", "SPF", "DKIM", "DMARC", "https://"} {
		if !strings.Contains(s, want) {
			t.Errorf("human output lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	run([]string{"triage", "--lang", "en", f}, nil, &out, &errb)
	if !strings.Contains(out.String(), "reputation") || strings.Contains(out.String(), "レピュテーション") {
		t.Errorf("--lang en output:\n%s", out.String())
	}
}

func TestCheckCommand(t *testing.T) {
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Append([]byte("From: a@example.jp\nTo: b@example.jp\nSubject: hi\n\nhello\n"))
	t.Setenv("BOUNCEWATCH_IMAP_ADDR", srv.Addr)
	t.Setenv("BOUNCEWATCH_IMAP_TLS", "none")
	t.Setenv("BOUNCEWATCH_IMAP_USERNAME", srv.User)
	t.Setenv("BOUNCEWATCH_IMAP_PASSWORD", srv.Password)
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "bw.db"))
	var out, errb bytes.Buffer
	if code := run([]string{"check"}, nil, &out, &errb); code != 0 {
		t.Fatalf("check exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "1 messages in INBOX") {
		t.Errorf("check output:\n%s", out.String())
	}
	t.Setenv("BOUNCEWATCH_IMAP_PASSWORD", "wrong")
	out.Reset()
	if code := run([]string{"check"}, nil, &out, &errb); code != 1 || !strings.Contains(out.String(), "failed") {
		t.Errorf("check with a wrong password: exit %d\n%s", code, out.String())
	}
	if strings.Contains(out.String()+errb.String(), srv.Password) {
		t.Error("check printed the password")
	}
}
