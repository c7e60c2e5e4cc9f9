package health

import (
	"strings"
	"testing"
)

// Bounce text and raw messages are hostile input: the parsers stay within
// their bounds and give only well-formed names.
func FuzzDKIMRefs(f *testing.F) {
	f.Add([]byte("DKIM-Signature: v=1; d=example.co.jp;\r\n s=sel; b=x\r\n"), "example.co.jp")
	f.Add([]byte("dkim-signature:d=a.example;s=s\n\tx=1\n"), "")
	f.Fuzz(func(t *testing.T, raw []byte, from string) {
		refs := DKIMRefs(raw, from)
		if len(refs) > 3 {
			t.Fatalf("%d refs", len(refs))
		}
		for _, r := range refs {
			if !zoneRE.MatchString(r.Domain) || strings.ContainsAny(r.Selector, " ;\r\n") {
				t.Fatalf("bad ref %+v", r)
			}
		}
	})
}

func FuzzListsNamed(f *testing.F) {
	f.Add("Client host [192.0.2.1] blocked using zen.spamhaus.org; see https://www.spamhaus.org/")
	f.Add("listed at a.b listed on c.d listed in e.f listed by g.h")
	f.Fuzz(func(t *testing.T, diag string) {
		zs := ListsNamed(diag)
		if len(zs) > 3 {
			t.Fatalf("%d zones", len(zs))
		}
		for _, z := range zs {
			if strings.ContainsAny(z, " ;\r\n/") || strings.HasPrefix(z, "www.") {
				t.Fatalf("bad zone %q", z)
			}
		}
	})
}

func FuzzEnvelopeSenderDomain(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"X-Postfix-Sender: rfc822; info@example.co.jp\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nReturn-Path: <a@example.net>\r\n\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <@r.example:u@d.example>\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if d := EnvelopeSenderDomain(raw); d != "" && !zoneRE.MatchString(d) {
			t.Fatalf("bad domain %q", d)
		}
	})
}
