package health_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/dnsresolver"
	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
	"github.com/bouncewatch/bouncewatch/internal/health"
)

var _ health.Resolver = (*dnsresolver.Resolver)(nil)

var clock = time.Date(2026, 12, 3, 4, 45, 0, 0, time.UTC)

func checker(t *testing.T, addr string) *health.Checker {
	t.Helper()
	r, err := dnsresolver.New(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &health.Checker{Resolver: r, Now: func() time.Time { return clock }}
}

// find returns the one result of check (and list), failing the test if
// there is not exactly one.
func find(t *testing.T, rs []health.Result, check health.Check, list string) health.Result {
	t.Helper()
	var out []health.Result
	for _, r := range rs {
		if r.Check == check && r.List == list {
			out = append(out, r)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d results for %s %s, want 1: %+v", len(out), check, list, rs)
	}
	return out[0]
}

func want(t *testing.T, r health.Result, status health.Status, finding health.Finding) {
	t.Helper()
	if r.Status != status || r.Finding != finding {
		t.Errorf("%s %s %s: %s/%s (%s), want %s/%s", r.Check, r.List, r.Subject, r.Status, r.Finding, r.Detail, status, finding)
	}
	if !r.At.Equal(clock) {
		t.Errorf("%s: time %v, want the clock's %v", r.Check, r.At, clock)
	}
}

func TestBadOffice(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		Domain: dnstest.BadDomain, IP: netip.MustParseAddr(dnstest.BadIP)})
	want(t, find(t, rs, health.CheckSPF, ""), health.StatusFail, health.SPFSoftFail)
	want(t, find(t, rs, health.CheckDMARC, ""), health.StatusWarn, health.DMARCMissing)
	want(t, find(t, rs, health.CheckPTR, ""), health.StatusFail, health.PTRMissing)
	zen := find(t, rs, health.CheckDNSBL, "zen.spamhaus.org")
	want(t, zen, health.StatusFail, health.ListListed)
	if strings.Join(zen.Values, ",") != "XBL" {
		t.Errorf("ZEN 127.0.0.4 read as %v, want XBL", zen.Values)
	}
	for _, l := range []string{"bl.spamcop.net", "b.barracudacentral.org", "dnsbl-1.uceprotect.net", "dbl.spamhaus.org"} {
		want(t, find(t, rs, health.CheckDNSBL, l), health.StatusOK, health.ListClear)
	}
	if !health.Failed(rs) {
		t.Error("Failed = false for the bad office")
	}
	if len(rs) != 8 {
		t.Errorf("%d results, want 8 (spf, dmarc, ptr, 5 lists)", len(rs))
	}
}

func TestHealthyOffice(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		Domain: dnstest.HealthyDomain, IP: netip.MustParseAddr(dnstest.HealthyIP),
		DKIM:            []health.DKIMRef{{Domain: dnstest.HealthyDomain, Selector: dnstest.HealthySelector}},
		RecipientDomain: dnstest.M365Domain,
	})
	want(t, find(t, rs, health.CheckSPF, ""), health.StatusOK, health.SPFPass)
	dm := find(t, rs, health.CheckDMARC, "")
	want(t, dm, health.StatusOK, health.DMARCPolicy)
	if len(dm.Values) != 1 || dm.Values[0] != "reject" {
		t.Errorf("DMARC policy %v, want reject", dm.Values)
	}
	want(t, find(t, rs, health.CheckDKIM, ""), health.StatusOK, health.DKIMKey)
	ptr := find(t, rs, health.CheckPTR, "")
	want(t, ptr, health.StatusOK, health.PTRConfirmed)
	if len(ptr.Values) != 1 || ptr.Values[0] != dnstest.HealthyPTR {
		t.Errorf("PTR %v, want %s", ptr.Values, dnstest.HealthyPTR)
	}
	for _, l := range []string{"zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "dnsbl-1.uceprotect.net", "dbl.spamhaus.org"} {
		want(t, find(t, rs, health.CheckDNSBL, l), health.StatusOK, health.ListClear)
	}
	mx := find(t, rs, health.CheckMX, "")
	want(t, mx, health.StatusOK, health.MXProvider)
	if mx.Values[0] != health.ProviderMicrosoft365 {
		t.Errorf("MX provider %v, want Microsoft 365", mx.Values)
	}
	if health.Failed(rs) {
		t.Errorf("Failed = true for the healthy office: %+v", rs)
	}
}

func TestDKIMKeyMissing(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		DKIM: []health.DKIMRef{{Domain: dnstest.HealthyDomain, Selector: "gone"}}})
	want(t, find(t, rs, health.CheckDKIM, ""), health.StatusFail, health.DKIMNoKey)
}

func TestDKIMKeyRevoked(t *testing.T) {
	srv := dnstest.Start(t)
	if err := srv.Add(`old._domainkey.healthy.example.com. 300 IN TXT "v=DKIM1; p="`); err != nil {
		t.Fatal(err)
	}
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		DKIM: []health.DKIMRef{{Domain: dnstest.HealthyDomain, Selector: "old"}}})
	want(t, find(t, rs, health.CheckDKIM, ""), health.StatusFail, health.DKIMRevoked)
}

// The DMARC record of the organisational domain applies to a subdomain
// without its own (RFC 7489 6.6.3), and a DKIM domain of another
// organisation does not align.
func TestDMARCOrganisationalDomainAndAlignment(t *testing.T) {
	srv := dnstest.Start(t)
	if err := srv.Add(`_dmarc.example.net. 300 IN TXT "v=DMARC1; p=quarantine"`); err != nil {
		t.Fatal(err)
	}
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		Domain: "news.example.net", MailFrom: "bounce.example.org",
		DKIM: []health.DKIMRef{{Domain: "esp.example.org", Selector: "s"}}})
	dm := find(t, rs, health.CheckDMARC, "")
	want(t, dm, health.StatusFail, health.DMARCUnaligned)
	if len(dm.Values) != 1 || dm.Values[0] != "quarantine" {
		t.Errorf("policy %v, want the organisational domain's quarantine", dm.Values)
	}
}

func TestDNSBLRefusedIsNotNotListed(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{IP: netip.MustParseAddr(dnstest.RefusedIP)})
	zen := find(t, rs, health.CheckDNSBL, "zen.spamhaus.org")
	want(t, zen, health.StatusError, health.ListRefused)
	if strings.Contains(zen.Detail, "not listed") || !strings.Contains(zen.Detail, "refused") {
		t.Errorf("detail %q: want a refusal, never 'not listed'", zen.Detail)
	}
	s := health.Summarize(rs)
	if s.Clear || !s.Incomplete {
		t.Errorf("summary of a refused check: clear=%v incomplete=%v", s.Clear, s.Incomplete)
	}
	text := strings.Join(s.TextLines(time.UTC), "\n")
	if !strings.Contains(text, "Spamhaus ZEN は確認できませんでした") {
		t.Errorf("summary does not say ZEN could not be checked:\n%s", text)
	}
}

// Each of Spamhaus's refusal answers is "could not check" with its reason,
// in the result, the notice's summary and doctor's text; never a listing or
// "not listed".
func TestDNSBLRefusalCodes(t *testing.T) {
	srv := dnstest.Start(t)
	for _, c := range []struct {
		ip, code, detail, japanese string
	}{
		{"192.0.2.52", health.RefusedMalformed, "malformed query", "問い合わせの形式が正しくありません"},
		{"192.0.2.54", health.RefusedOpen, "query through a public resolver", "公開DNSリゾルバー（8.8.8.8 や 1.1.1.1 など）経由の問い合わせは断られます"},
		{"192.0.2.55", health.RefusedVolume, "too many queries from this resolver", "このDNSサーバーからの問い合わせが多すぎます"},
	} {
		ip := netip.MustParseAddr(c.ip)
		b := ip.As4()
		if err := srv.Add(fmt.Sprintf("%d.%d.%d.%d.zen.spamhaus.org. 300 IN A %s", b[3], b[2], b[1], b[0], c.code)); err != nil {
			t.Fatal(err)
		}
		rs := checker(t, srv.Addr).Run(context.Background(), health.Target{IP: ip})
		zen := find(t, rs, health.CheckDNSBL, "zen.spamhaus.org")
		want(t, zen, health.StatusError, health.ListRefused)
		if !strings.Contains(zen.Detail, c.detail) || strings.Contains(zen.Detail, "is listed") || strings.Contains(zen.Detail, "not listed") {
			t.Errorf("%s: detail %q, want %q and neither listed nor not listed", c.code, zen.Detail, c.detail)
		}
		text := strings.Join(health.Summarize(rs).TextLines(time.UTC), "\n")
		doctor := health.DoctorText("", []string{c.ip}, rs, time.UTC, "")
		for name, got := range map[string]string{"summary": text, "doctor": doctor} {
			if !strings.Contains(got, "Spamhaus ZEN は確認できませんでした") || !strings.Contains(got, c.japanese) {
				t.Errorf("%s %s does not say ZEN could not be checked and why:\n%s", c.code, name, got)
			}
			if strings.Contains(got, "Spamhaus ZEN に登録されていません") || strings.Contains(got, "Spamhaus ZEN（") {
				t.Errorf("%s %s reads the refusal as a result:\n%s", c.code, name, got)
			}
		}
		fix := "BOUNCEWATCH_DNS_SERVER"
		if c.code == health.RefusedMalformed {
			fix = "BOUNCEWATCH_DNSBL のゾーン名"
		}
		if !strings.Contains(text, "→ 【情報システム担当】") || !strings.Contains(text, fix) {
			t.Errorf("%s: the summary's action does not point at %s:\n%s", c.code, fix, text)
		}
	}
}

// A list named by a bounce is asked too; a DQS zone keeps its key out of
// every result.
func TestExtraAndDQSLists(t *testing.T) {
	srv := dnstest.Start(t)
	srv.Add(`25.113.0.203.rbl.example.net. 300 IN A 127.0.0.2`)
	srv.Add(`25.113.0.203.secretkey123.zen.dq.spamhaus.net. 300 IN A 127.0.0.10`)
	lists, err := health.ParseLists("secretkey123.zen.dq.spamhaus.net, secretkey123.dbl.dq.spamhaus.net")
	if err != nil {
		t.Fatal(err)
	}
	c := checker(t, srv.Addr)
	c.Lists = lists
	rs := c.Run(context.Background(), health.Target{Domain: dnstest.BadDomain, IP: netip.MustParseAddr(dnstest.BadIP),
		ExtraLists: health.ListsNamed("554 5.7.1 Service unavailable; Client host [203.0.113.25] blocked using rbl.example.net; also listed on zen.spamhaus.org")})
	zen := find(t, rs, health.CheckDNSBL, "zen.dq.spamhaus.net")
	want(t, zen, health.StatusFail, health.ListListed)
	if zen.Values[0] != "PBL" {
		t.Errorf("DQS ZEN 127.0.0.10 read as %v, want PBL", zen.Values)
	}
	want(t, find(t, rs, health.CheckDNSBL, "dbl.dq.spamhaus.net"), health.StatusOK, health.ListClear)
	want(t, find(t, rs, health.CheckDNSBL, "rbl.example.net"), health.StatusFail, health.ListListed)
	for _, r := range rs {
		if r.Check == health.CheckDNSBL && r.List == "zen.spamhaus.org" {
			t.Error("public ZEN asked though a DQS ZEN zone is configured")
		}
		if strings.Contains(r.Detail+r.List+r.Subject, "secretkey123") {
			t.Errorf("the DQS key shows in a result: %+v", r)
		}
	}
	for _, l := range health.Summarize(rs).TextLines(time.UTC) {
		if strings.Contains(l, "secretkey123") {
			t.Errorf("the DQS key shows in the summary: %s", l)
		}
	}
}

func TestParseListsRejectsNonNames(t *testing.T) {
	if _, err := health.ParseLists("zen.spamhaus.org, not a zone"); err == nil {
		t.Error("a zone with spaces was accepted")
	}
	ls, err := health.ParseLists("")
	if err != nil || len(ls) != len(health.DefaultLists()) {
		t.Errorf("empty list: %v %v, want the defaults", ls, err)
	}
}

func TestListsNamed(t *testing.T) {
	for _, c := range []struct{ diag, want string }{
		{"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1", "zen.spamhaus.org"},
		{"550 rejected because 192.0.2.1 is in a black list at bl.spamcop.net", "bl.spamcop.net"},
		{"550 5.7.1 Rejected: 192.0.2.1 listed at b.barracudacentral.org", "b.barracudacentral.org"},
		{"550 see https://www.spamhaus.org/ for details", ""},
		{"550 5.1.1 user unknown", ""},
	} {
		if got := strings.Join(health.ListsNamed(c.diag), ","); got != c.want {
			t.Errorf("ListsNamed(%q) = %q, want %q", c.diag, got, c.want)
		}
	}
}

// A resolver that never answers: every check says it could not be done,
// none claims a result, and Run returns.
func TestDeadResolver(t *testing.T) {
	c := checker(t, dnstest.Blackhole(t))
	c.Timeout = 50 * time.Millisecond
	rs := c.Run(context.Background(), health.Target{Domain: dnstest.BadDomain, IP: netip.MustParseAddr(dnstest.BadIP),
		DKIM: []health.DKIMRef{{Domain: dnstest.BadDomain, Selector: "s"}}, RecipientDomain: dnstest.M365Domain})
	if len(rs) != 10 {
		t.Errorf("%d results, want 10", len(rs))
	}
	for _, r := range rs {
		if r.Status != health.StatusError || r.Finding != health.LookupFailed {
			t.Errorf("%s %s: %s/%s (%s), want error/lookup-failed", r.Check, r.List, r.Status, r.Finding, r.Detail)
		}
	}
	s := health.Summarize(rs)
	if s.Clear || !s.Incomplete || len(s.Actions) != 0 {
		t.Errorf("summary of a dead resolver: %+v", s)
	}
}

func TestSummarizeBadOffice(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		Domain: dnstest.BadDomain, IP: netip.MustParseAddr(dnstest.BadIP)})
	s := health.Summarize(rs)
	if s.Clear || s.Incomplete {
		t.Errorf("clear=%v incomplete=%v, want false, false", s.Clear, s.Incomplete)
	}
	text := strings.Join(s.TextLines(time.FixedZone("JST", 9*3600)), "\n")
	for _, w := range []string{
		"2026/12/03 13:45 時点",
		"203.0.113.25 は Spamhaus ZEN（XBL）に登録されています",
		"SPFに送信IP 203.0.113.25 が含まれていません",
		"example.co.jp にはDMARCレコードがありません",
		"送信IP 203.0.113.25 に逆引き(PTR)が設定されていません",
		"→ 【情報システム担当】ウイルス感染",
		"https://check.spamhaus.org",
		"→ 【情報システム担当】example.co.jp のSPFレコード",
		"→ 【レンタルサーバー会社】203.0.113.25 の逆引き(PTR)",
		"_dmarc.example.co.jp",
		"SpamCop、Barracuda、UCEPROTECT レベル1",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("summary lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "確認し直す必要はありません") {
		t.Errorf("the bad office is told all is well:\n%s", text)
	}

	// With BOUNCEWATCH_HOSTING_NAME, as the advice: the hosting company's
	// own action under its name, and its name where the office is told to
	// contact it; the results themselves are unchanged.
	named := s.ForHosting(" ヘテムル ")
	ntext := strings.Join(named.TextLines(time.FixedZone("JST", 9*3600)), "\n")
	for _, w := range []string{"→ 【ヘテムル】203.0.113.25 の逆引き(PTR)", "を管理するヘテムル（またはプロバイダ）に",
		"→ 【情報システム担当】example.co.jp のSPFレコード"} {
		if !strings.Contains(ntext, w) {
			t.Errorf("summary for a named hosting company lacks %q:\n%s", w, ntext)
		}
	}
	if strings.Contains(ntext, "レンタルサーバー会社") {
		t.Errorf("the hosting company is named generically although its name is set:\n%s", ntext)
	}
	if len(named.Lines) != len(s.Lines) || len(named.Actions) != len(s.Actions) || named.Clear != s.Clear {
		t.Errorf("ForHosting changed the findings: %+v -> %+v", s, named)
	}
	if again := strings.Join(s.TextLines(time.FixedZone("JST", 9*3600)), "\n"); again != text {
		t.Errorf("ForHosting changed the summary it was called on:\n%s", again)
	}
	// doctor, the same.
	doctor := health.DoctorText(dnstest.BadDomain, []string{dnstest.BadIP}, rs, time.UTC, "ヘテムル")
	if !strings.Contains(doctor, "【ヘテムル】203.0.113.25 の逆引き(PTR)") || strings.Contains(doctor, "レンタルサーバー会社") {
		t.Errorf("doctor does not name the hosting company:\n%s", doctor)
	}
	if generic := health.DoctorText(dnstest.BadDomain, []string{dnstest.BadIP}, rs, time.UTC, ""); !strings.Contains(generic, "【レンタルサーバー会社】203.0.113.25 の逆引き(PTR)") {
		t.Errorf("doctor without a name lacks the generic word:\n%s", generic)
	}
	if blank := s.ForHosting("  "); blank.Hosting != "" || blank.Label(health.RoleHosting) != "【レンタルサーバー会社】" {
		t.Errorf("a blank name: hosting %q, label %q", blank.Hosting, blank.Label(health.RoleHosting))
	}
}

func TestSummarizeHealthyOffice(t *testing.T) {
	srv := dnstest.Start(t)
	rs := checker(t, srv.Addr).Run(context.Background(), health.Target{
		Domain: dnstest.HealthyDomain, IP: netip.MustParseAddr(dnstest.HealthyIP)})
	s := health.Summarize(rs)
	if !s.Clear || s.Incomplete || len(s.Actions) != 0 {
		t.Errorf("healthy summary: %+v", s)
	}
	text := strings.Join(s.TextLines(time.UTC), "\n")
	if !strings.Contains(text, "SPF・DMARC・逆引き(PTR)はいずれも正常") {
		t.Errorf("healthy summary does not say all passed:\n%s", text)
	}
}
