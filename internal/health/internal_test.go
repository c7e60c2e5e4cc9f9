package health

import (
	"net/netip"
	"strings"
	"testing"
)

func TestReverse(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.25":        "25.113.0.203",
		"::ffff:203.0.113.25": "25.113.0.203",
		"2001:db8::1":         "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	} {
		if got := reverse(netip.MustParseAddr(in)); got != want {
			t.Errorf("reverse(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestAlignment(t *testing.T) {
	for _, c := range []struct {
		from, other  string
		strict, want bool
	}{
		{"example.co.jp", "example.co.jp", true, true},
		{"example.co.jp", "mail.example.co.jp", false, true},
		{"example.co.jp", "mail.example.co.jp", true, false},
		{"example.co.jp", "other.co.jp", false, false},
	} {
		if got := alignedWith(c.from, c.other, c.strict); got != c.want {
			t.Errorf("alignedWith(%s, %s, strict=%v) = %v", c.from, c.other, c.strict, got)
		}
	}
}

func TestZENCodes(t *testing.T) {
	for code, want := range map[string]string{"127.0.0.2": "SBL", "127.0.0.3": "CSS", "127.0.0.4": "XBL", "127.0.0.7": "XBL",
		"127.0.0.9": "DROP", "127.0.0.10": "PBL", "127.0.0.11": "PBL", "127.0.0.8": "127.0.0.8"} {
		if got := meaning("zen", netip.MustParseAddr(code)); got != want {
			t.Errorf("ZEN %s = %s, want %s", code, got, want)
		}
	}
}

func TestDKIMRefs(t *testing.T) {
	raw := "DKIM-Signature: v=1; a=rsa-sha256; d=hosting.example.net; s=bounce;\r\n" +
		"Subject: Undelivered\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" +
		"dkim-signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n\td=Example.co.jp;\r\n s=sel2024; h=from:to;\r\n bh=abc; b=def\r\n" +
		"From: info@example.co.jp\r\n"
	got := DKIMRefs([]byte(raw), "example.co.jp")
	if len(got) != 1 || got[0] != (DKIMRef{Domain: "example.co.jp", Selector: "sel2024"}) {
		t.Errorf("DKIMRefs = %+v, want example.co.jp sel2024 only", got)
	}
	if got := DKIMRefs([]byte("DKIM-Signature: d=x y; s=<bad>\r\n"), ""); len(got) != 0 {
		t.Errorf("malformed tags accepted: %+v", got)
	}
}

// Every DNS value an action marks to copy is in its text verbatim, so a
// renderer can find it.
func TestActionCodeInText(t *testing.T) {
	ip := []string{"192.0.2.25"}
	n := 0
	for _, r := range []Result{
		{Check: CheckSPF, Finding: SPFFail, Subject: "example.co.jp", Values: ip},
		{Check: CheckSPF, Finding: SPFNone, Subject: "example.co.jp", Values: ip},
		{Check: CheckDMARC, Finding: DMARCMissing, Subject: "example.co.jp"},
		{Check: CheckDMARC, Finding: DMARCInvalid, Subject: "example.co.jp", Detail: "x"},
		{Check: CheckDKIM, Finding: DKIMNoKey, Subject: "sel._domainkey.example.co.jp"},
	} {
		_, acts := explain(r)
		for _, a := range acts {
			for _, c := range a.Code {
				n++
				if !strings.Contains(a.Text, c) {
					t.Errorf("%s: code %q is not in %q", r.Finding, c, a.Text)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("%d DNS values marked, want the SPF, DMARC and DKIM ones", n)
	}
}
