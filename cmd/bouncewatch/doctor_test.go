package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
)

type doctorOut struct {
	Domain string `json:"domain"`
	IP     string `json:"ip"`
	Checks []struct {
		Check  string `json:"check"`
		List   string `json:"list"`
		Status string `json:"status"`
		Detail string `json:"detail"`
	} `json:"checks"`
}

// doctorJSONRun runs `doctor --json` against the test DNS server and
// decodes its one object.
func doctorJSONRun(t *testing.T, srv *dnstest.Server, args ...string) (doctorOut, int) {
	t.Helper()
	t.Setenv("BOUNCEWATCH_DNS_SERVER", srv.Addr)
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "none.db"))
	var out, errb bytes.Buffer
	code := run(append([]string{"doctor", "--json"}, args...), nil, &out, &errb)
	var got doctorOut
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("doctor --json printed no JSON object: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	if dec.More() {
		t.Fatalf("doctor --json printed more than one object:\n%s", out.String())
	}
	return got, code
}

func statusOf(t *testing.T, got doctorOut, check, list string) string {
	t.Helper()
	var found []string
	for _, c := range got.Checks {
		if c.Check == check && c.List == list {
			found = append(found, c.Status)
			if c.Detail == "" {
				t.Errorf("%s %s has no detail", check, list)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s %s checks, want 1: %+v", len(found), check, list, got.Checks)
	}
	return found[0]
}

func TestDoctorJSONBadOffice(t *testing.T) {
	srv := dnstest.Start(t)
	got, code := doctorJSONRun(t, srv, "--domain", dnstest.BadDomain, "--ip", dnstest.BadIP)
	if code != 1 {
		t.Errorf("exit %d, want 1 (checks fail)", code)
	}
	if got.Domain != dnstest.BadDomain || got.IP != dnstest.BadIP {
		t.Errorf("domain %q ip %q", got.Domain, got.IP)
	}
	for _, c := range []struct{ check, list, want string }{
		{"spf", "", "fail"},
		{"dmarc", "", "warn"},
		{"ptr", "", "fail"},
		{"dnsbl", "zen.spamhaus.org", "fail"},
		{"dnsbl", "bl.spamcop.net", "ok"},
		{"dnsbl", "b.barracudacentral.org", "ok"},
		{"dnsbl", "dnsbl-1.uceprotect.net", "ok"},
		{"dnsbl", "dbl.spamhaus.org", "ok"},
		{"mx", "", "ok"},
	} {
		if s := statusOf(t, got, c.check, c.list); s != c.want {
			t.Errorf("%s %s: %s, want %s", c.check, c.list, s, c.want)
		}
	}
	for _, c := range got.Checks {
		switch {
		case c.Check == "dmarc" && !strings.Contains(c.Detail, "no DMARC record"),
			c.Check == "ptr" && !strings.Contains(c.Detail, "no PTR"),
			c.List == "zen.spamhaus.org" && !strings.Contains(c.Detail, "XBL"):
			t.Errorf("%s %s detail %q", c.Check, c.List, c.Detail)
		}
	}
}

func TestDoctorJSONHealthyOffice(t *testing.T) {
	srv := dnstest.Start(t)
	got, code := doctorJSONRun(t, srv, "--domain", dnstest.HealthyDomain, "--ip", dnstest.HealthyIP, "--selector", dnstest.HealthySelector)
	if code != 0 {
		t.Errorf("exit %d, want 0: %+v", code, got.Checks)
	}
	for _, c := range got.Checks {
		if c.Status != "ok" {
			t.Errorf("%s %s: %s (%s), want ok", c.Check, c.List, c.Status, c.Detail)
		}
	}
	for _, check := range []string{"spf", "dmarc", "dkim", "ptr", "mx"} {
		statusOf(t, got, check, "")
	}
	if n := len(got.Checks); n != 10 {
		t.Errorf("%d checks, want 10 (spf, dmarc, dkim, ptr, 5 lists, mx)", n)
	}
}

func TestDoctorTableJapanese(t *testing.T) {
	srv := dnstest.Start(t)
	t.Setenv("BOUNCEWATCH_DNS_SERVER", srv.Addr)
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "none.db"))
	t.Setenv("BOUNCEWATCH_IMAP_USERNAME", "office@"+dnstest.BadDomain) // the default domain
	var out, errb bytes.Buffer
	if code := run([]string{"doctor", "--ip", dnstest.BadIP}, nil, &out, &errb); code != 1 {
		t.Errorf("exit %d, want 1; stderr %s", code, errb.String())
	}
	text := out.String()
	t.Log("\n" + text)
	for _, w := range []string{
		"bouncewatch doctor: example.co.jp / 203.0.113.25",
		"| SPF または DKIM で認証されている | Gmail・Yahoo: すべての送信者",
		"| 不合格 | 【情報システム担当】example.co.jp のSPFレコード",
		"| 送信IPの逆引き(PTR)があり、正引きと一致する | Gmail・Yahoo: すべての送信者 | 不合格 |",
		"| DMARCレコードがあり（p=none可）、差出人のドメインと整合する | Gmail・Yahoo: 1日5,000通以上の大量送信者／Outlook: 大量送信者 | 注意 |",
		"| 主要なブロックリストに登録されていない | 各社（受信側が参照） | 不合格 |",
		"203.0.113.25 は Spamhaus ZEN（XBL）に登録されています",
		"[合格] DNSBL bl.spamcop.net: 203.0.113.25 は SpamCop に登録されていません",
		"【レンタルサーバー会社】203.0.113.25 の逆引き(PTR)にホスト名を設定し",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("doctor output lacks %q:\n%s", w, text)
		}
	}
}

func TestDoctorNeedsADomain(t *testing.T) {
	t.Setenv("BOUNCEWATCH_IMAP_USERNAME", "")
	var out, errb bytes.Buffer
	if code := run([]string{"doctor", "--ip", "192.0.2.1"}, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--domain") {
		t.Errorf("exit %d, stderr %q: want 2 and a hint at --domain", code, errb.String())
	}
	if code := run([]string{"doctor", "--domain", "example.com", "--ip", "not-an-ip"}, nil, &out, &errb); code != 2 {
		t.Errorf("a bad --ip gave exit %d, want 2", code)
	}
}
