package main

import (
	"bytes"
	"encoding/json"
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
