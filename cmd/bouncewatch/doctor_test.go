package main

import (
	"bytes"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
)

type doctorOut struct {
	Domain string   `json:"domain"`
	IP     string   `json:"ip"`
	IPs    []string `json:"ips"`
	Checks []struct {
		Check  string `json:"check"`
		IP     string `json:"ip"`
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
		"1. なりすまし対策の SPF か DKIM に合格している ── 不合格\n   対象: Gmail・Yahoo: すべての送信者（1日5,000通以上なら両方）／Outlook: 1日5,000通以上なら両方\n" +
			"   対応: 【情報システム担当】example.co.jp のSPFレコード",
		"2. 送信IPに逆引き（PTR）が設定され、その名前の正引きが同じIPを指している ── 不合格\n   対象: Gmail・Yahoo: すべての送信者\n" +
			"   対応: 【情報システム担当】送信IP 203.0.113.25 を管理するレンタルサーバー会社",
		"3. DMARC を公開し（p=none でよい）、差出人のドメインが SPF か DKIM のドメインと一致している ── 注意\n" +
			"   対象: Gmail・Yahoo・Outlook: 1日5,000通以上送る送信者\n   対応: 【情報システム担当】_dmarc.example.co.jp にDMARCレコード",
		"4. 送信時に TLS で暗号化している ── 未確認\n   対象: Gmail: すべての送信者\n   対応: DNSでは確認できません。",
		"5. 主要なブロックリストに登録されていない ── 不合格\n   対象: 各社とも受信時に参照（すべての送信者）\n" +
			"   対応: 【情報システム担当】ウイルス感染・パスワード漏れ",
		"203.0.113.25 は Spamhaus ZEN（XBL）に登録されています",
		"[合格] 203.0.113.25 は SpamCop に登録されていません",
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

// With one --ip the object has exactly the contract's keys.
func TestDoctorJSONContractKeys(t *testing.T) {
	srv := dnstest.Start(t)
	t.Setenv("BOUNCEWATCH_DNS_SERVER", srv.Addr)
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "none.db"))
	var out, errb bytes.Buffer
	run([]string{"doctor", "--json", "--domain", dnstest.BadDomain, "--ip", dnstest.BadIP}, nil, &out, &errb)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(raw) != 3 || raw["domain"] == nil || raw["ip"] == nil || raw["checks"] == nil {
		t.Errorf("keys of the object: %s", out.String())
	}
	var checks []map[string]any
	if err := json.Unmarshal(raw["checks"], &checks); err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		for k := range c {
			switch k {
			case "check", "status", "detail":
			case "list":
				if c["check"] != "dnsbl" {
					t.Errorf("list on a %v check", c["check"])
				}
			default:
				t.Errorf("check has key %q beyond the contract: %v", k, c)
			}
		}
	}
}

// With several --ip: one object, "ip" the first, "ips" all, and each check
// about an IP names it; the domain's checks appear once.
func TestDoctorJSONSeveralIPs(t *testing.T) {
	srv := dnstest.Start(t)
	got, code := doctorJSONRun(t, srv, "--domain", dnstest.HealthyDomain, "--ip", dnstest.HealthyIP, "--ip", dnstest.BadIP)
	if code != 1 {
		t.Errorf("exit %d, want 1 (the second IP fails)", code)
	}
	if got.IP != dnstest.HealthyIP || strings.Join(got.IPs, ",") != dnstest.HealthyIP+","+dnstest.BadIP {
		t.Errorf("ip %q ips %v", got.IP, got.IPs)
	}
	type key struct{ check, ip, list string }
	status := map[key]string{}
	for _, c := range got.Checks {
		k := key{c.Check, c.IP, c.List}
		if _, dup := status[k]; dup {
			t.Errorf("%v twice", k)
		}
		status[k] = c.Status
	}
	for k, want := range map[key]string{
		{"spf", dnstest.HealthyIP, ""}:                   "ok",
		{"spf", dnstest.BadIP, ""}:                       "fail",
		{"ptr", dnstest.HealthyIP, ""}:                   "ok",
		{"ptr", dnstest.BadIP, ""}:                       "fail",
		{"dnsbl", dnstest.HealthyIP, "zen.spamhaus.org"}: "ok",
		{"dnsbl", dnstest.BadIP, "zen.spamhaus.org"}:     "fail",
		{"dnsbl", dnstest.BadIP, "bl.spamcop.net"}:       "ok",
		{"dmarc", "", ""}:                                "ok",
		{"dnsbl", "", "dbl.spamhaus.org"}:                "ok",
		{"mx", "", ""}:                                   "ok",
	} {
		if got := status[k]; got != want {
			t.Errorf("%v: %q, want %q", k, got, want)
		}
	}
}

// Spamhaus refusing the query (127.255.255.254: a public resolver) is
// "could not check" with the reason, in the JSON and in the table.
func TestDoctorSpamhausRefusal(t *testing.T) {
	srv := dnstest.Start(t)
	got, _ := doctorJSONRun(t, srv, "--domain", dnstest.HealthyDomain, "--ip", dnstest.RefusedIP)
	if s := statusOf(t, got, "dnsbl", "zen.spamhaus.org"); s != "error" {
		t.Errorf("ZEN refusal: %s, want error", s)
	}
	for _, c := range got.Checks {
		if c.List == "zen.spamhaus.org" && !strings.Contains(c.Detail, "public resolver") {
			t.Errorf("ZEN refusal detail %q does not say why", c.Detail)
		}
	}
	var out, errb bytes.Buffer
	run([]string{"doctor", "--domain", dnstest.HealthyDomain, "--ip", dnstest.RefusedIP}, nil, &out, &errb)
	for _, w := range []string{
		"5. 主要なブロックリストに登録されていない ── 確認不可",
		"[確認不可] Spamhaus ZEN は確認できませんでした（zen.spamhaus.org が問い合わせを断りました: 公開DNSリゾルバー",
		"Spamhaus DQS のキー",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("doctor lacks %q:\n%s", w, out.String())
		}
	}
}

// A resolver that never answers proves nothing: doctor says so and does not
// exit 0, although no check "failed".
func TestDoctorDeadResolverIsNoSuccess(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close() // reads nothing: every query times out
	t.Setenv("BOUNCEWATCH_DNS_SERVER", pc.LocalAddr().String())
	t.Setenv("BOUNCEWATCH_DNS_TIMEOUT", "100ms")
	t.Setenv("BOUNCEWATCH_DB", filepath.Join(t.TempDir(), "none.db"))
	var out, errb bytes.Buffer
	code := run([]string{"doctor", "--json", "--domain", "example.com", "--ip", "192.0.2.1"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "no check could be made") {
		t.Errorf("exit %d, stderr %q: want 1 and a word that nothing was checked", code, errb.String())
	}
	var got doctorOut
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got.Checks) == 0 {
		t.Fatalf("no JSON object (%v): %s", err, out.String())
	}
	for _, c := range got.Checks {
		if c.Status != "error" {
			t.Errorf("%s %s: %s, want error with no DNS answer", c.Check, c.List, c.Status)
		}
	}
}
