package bounce

import "testing"

func TestZZProbe(t *testing.T) {
	for _, s := range []string{
		"host mx.example.net[198.51.100.7] said: 451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited",
		"host mx.example.net [198.51.100.7]: 550 5.1.1 user unknown",
		"550-5.7.1 [203.0.113.25      12] Our system has detected",
		"[203.0.113.25      12] Our system has detected",
		"554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using zen.spamhaus.org",
		"connect to mx.example.net[192.0.2.10]:25: Connection timed out",
		"421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume",
		"550 5.7.1 [2001:db8::25      12] Our system",
		"Remote-MTA: dns; mx.example.net [198.51.100.7]",
		"550 5.7.1 Unfortunately, messages from [203.0.113.25] weren't sent.",
		"550 5.7.606 Access denied, banned sending IP [203.0.113.25].",
		"(in reply to RCPT TO) 198.51.100.7 does not like recipient",
	} {
		t.Logf("%q -> %q", s, sendingIP(s))
	}
	for _, s := range []string{"550-5.7.26 This mail has been blocked\n550-5.7.26 because the sender is\n550 5.7.26 unauthenticated. - gsmtp", "  a\n\n  b  ", "550-first\n550 second", "", "451-4.7.650 x\n451 4.7.650 y"} {
		t.Logf("%q -> %q", s, unfoldSMTP(s))
	}
	for _, s := range []string{"5.1.1", "Status: 5.1.10 x", "4.7.650", "1.2.3.4", "v5.1.1", "5.1.1.1", "2.0.0", "5.1", "3.1.1", "x 5.123.456 y", "5.1234.1", "55.1.1", "192.5.1.1"} {
		t.Logf("status %q -> %q", s, findStatus(s))
	}
	for _, s := range []string{"550 5.1.1", "550-5.1.1", "550", "5500", "a550 x", "450,", "#550 x", "(550)", "smtp; 550 x", "250 ok", "600 x", "560 x", "5.5.0 x", "550-x", "550-", "port 5500", "Status: 550"} {
		t.Logf("reply %q -> %q", s, findReplyCode(s))
	}
}
