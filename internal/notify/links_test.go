package notify

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/advice"
)

func TestPlainLinks(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// A stranger's link: shown, not clickable.
		{"550 mailbox moved, update at https://login.example.net/verify?u=staff now",
			"550 mailbox moved, update at hxxps://login[.]example[.]net/verify?u=staff now"},
		{"https://a.example/r?to=https://evil.example/x.html&w=www.evil.example",
			"hxxps://a[.]example/r?to=hxxps://evil[.]example/x[.]html&w=www[.]evil[.]example"},
		{"www.://0", "www[.]://0"},
		{"see http://203.0.113.9/x", "see hxxp://203[.]0[.]113[.]9/x"},
		{"visit www.example.com/reset.", "visit www[.]example[.]com/reset."},
		{"HTTPS://EXAMPLE.ORG", "hxxps://EXAMPLE[.]ORG"},
		// A known host hidden behind user info or as a prefix is not known.
		{"https://support.google.com@evil.example/x", "hxxps://support[.]google[.]com@evil[.]example/x"},
		{"https://support.google.com.evil.example/", "hxxps://support[.]google[.]com[.]evil[.]example/"},
		// Provider and blocklist pages that bounces quote stay links (KB.md).
		{"550 5.7.1 see https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp",
			"550 5.7.1 see https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp"},
		{"blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.25",
			"blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.25"},
		{"(S3150) https://postmaster.live.com/x", "(S3150) https://postmaster.live.com/x"},
		// http links to provider pages become https; the S3140 text (KB.md §2).
		{"You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
			"You can also refer your provider to https://mail.live.com/mail/troubleshooting.aspx#errors."},
		{"see http://www.barracudacentral.org/rbl/removal-request",
			"see https://www.barracudacentral.org/rbl/removal-request"},
		{"fwlink https://go.microsoft.com/fwlink/?LinkID=614866", "fwlink https://go.microsoft.com/fwlink/?LinkID=614866"},
		{"[895] https://www.yahoo-help.jp/app/answers/detail/a_id/80870/p/622",
			"[895] https://www.yahoo-help.jp/app/answers/detail/a_id/80870/p/622"},
		{"See: http://www.uceprotect.net/rblcheck.php?ipr=203.0.113.25",
			"See: https://www.uceprotect.net/rblcheck.php?ipr=203.0.113.25"},
		{"blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=203.0.113.25",
			"blocked using Barracuda Reputation; https://bbl.barracudacentral.com/q.cgi?ip=203.0.113.25"},
		// Pages written by users of a provider are not the provider's word.
		{"https://sites.google.com/view/x", "hxxps://sites[.]google[.]com/view/x"},
		{"https://onedrive.live.com/x", "hxxps://onedrive[.]live[.]com/x"},
		{"no link at all 5.1.1", "no link at all 5.1.1"},
		{"日本語の文 https://bad.example.jp/あ 。", "日本語の文 hxxps://bad[.]example[.]jp/あ 。"},
		{"ftp://files.example.org/a", "fxp://files[.]example[.]org/a"},
	} {
		if got := PlainLinks(tc.in); got != tc.want {
			t.Errorf("PlainLinks(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestNoticeWithPlainLinksLeavesOurAdvice(t *testing.T) {
	n := Notice{Diagnostic: "550 go to https://phish.example.com/login", Detail: "詳細 https://phish.example.com/a",
		Advice: advice.GroupAdvice{Advice: advice.Advice{
			Links: []advice.Link{{Title: "docomo", URL: "https://www.docomo.ne.jp/"}},
			Facts: []advice.Fact{{Label: "応答", Value: "http://phish.example.com"}}}}}
	orig := n.Advice.Facts[0].Value
	got := n.WithPlainLinks()
	for _, s := range []string{got.Diagnostic, got.Detail, got.Advice.Facts[0].Value} {
		if strings.Contains(s, "phish.example.com") {
			t.Errorf("a bounce link is still clickable: %q", s)
		}
	}
	if got.Advice.Links[0].URL != "https://www.docomo.ne.jp/" {
		t.Errorf("our own link was changed: %q", got.Advice.Links[0].URL)
	}
	if n.Advice.Facts[0].Value != orig {
		t.Error("WithPlainLinks changed the notice it was called on")
	}
}

// Whatever the text, no link to an unknown host survives PlainLinks.
func FuzzPlainLinks(f *testing.F) {
	f.Add("see https://login.example.net/x and https://support.google.com/mail/?p=1")
	f.Add("www.example.com https://support.google.com@evil.example/")
	f.Fuzz(func(t *testing.T, s string) {
		out := PlainLinks(s)
		for _, link := range linkRe.FindAllString(out, -1) {
			if !knownLink(link) {
				t.Fatalf("PlainLinks(%q) = %q keeps the link %q", s, out, link)
			}
		}
	})
}
