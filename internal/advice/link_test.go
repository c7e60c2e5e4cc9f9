package advice

import (
	"strings"
	"testing"
)

func TestURLIn(t *testing.T) {
	for _, tc := range []struct {
		s     string
		hosts []string
		want  string
	}{
		{"blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=203.0.113.25", []string{"barracudacentral.com"},
			"https://bbl.barracudacentral.com/q.cgi?ip=203.0.113.25"},
		// Trailing punctuation and brackets are not part of the URL.
		{"(Visit http://csi.cloudmark.com/reset-request/?ip=203.0.113.25).", []string{"cloudmark.com"},
			"https://csi.cloudmark.com/reset-request/?ip=203.0.113.25"},
		{"see <https://www.spamcop.net/bl.shtml?203.0.113.25>", []string{"spamcop.net"}, "https://www.spamcop.net/bl.shtml?203.0.113.25"},
		// The first URL on a listed host wins; others are skipped.
		{"see https://postmaster.example.net/x then http://www.uceprotect.net/rblcheck.php?ipr=203.0.113.25", []string{"uceprotect.net"},
			"https://www.uceprotect.net/rblcheck.php?ipr=203.0.113.25"},
		// A host that merely ends with the same letters is not the list's.
		{"http://evilspamcop.net/x", []string{"spamcop.net"}, ""},
		{"http://user:pw@www.spamcop.net/x", []string{"spamcop.net"}, ""},
		{"https://mx.example.net/help", []string{"*"}, "https://mx.example.net/help"},
		{"no link at all; httpd said no", []string{"*"}, ""},
		{"", []string{"*"}, ""},
	} {
		if got := urlIn(tc.s, tc.hosts); got != tc.want {
			t.Errorf("urlIn(%q, %v) = %q, want %q", tc.s, tc.hosts, got, tc.want)
		}
	}
}

// TestBounceLinkOnHostileInput: a long diagnostic full of "http" is read in
// bounded time and never yields a link that is not https.
func TestBounceLinkOnHostileInput(t *testing.T) {
	s := strings.Repeat("http http:// https://[ ", 20000) + "http://www.spamcop.net/bl.shtml?192.0.2.1"
	if got := urlIn(s, []string{"spamcop.net"}); got != "https://www.spamcop.net/bl.shtml?192.0.2.1" {
		t.Errorf("got %q", got)
	}
	if got := urlIn(strings.Repeat("http", 100000), []string{"*"}); got != "" {
		t.Errorf("got %q", got)
	}
	if got := urlIn(strings.Repeat("javascript:alert(1) ", 1000), []string{"*"}); got != "" {
		t.Errorf("got %q", got)
	}
}
