package email

import (
	"bufio"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

func header(t *testing.T, fields ...string) mail.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(strings.Join(fields, "\r\n") + "\r\n\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return mail.Header{Header: message.Header{Header: h}}
}

func TestCheckAuth(t *testing.T) {
	const id, dom = "mx.example.jp", "example.jp"
	const rcvd = "Received: from mail.example.jp (mail.example.jp [192.0.2.10]) by mx.example.jp; Wed, 15 May 2024 09:00:00 +0900"
	const rcvdOut = "Received: from outside.example.net (outside.example.net [198.51.100.7]) by mail.example.jp; Wed, 15 May 2024 08:59:59 +0900"
	for _, tc := range []struct {
		name   string
		fields []string
		id     string
		want   AuthVerdict
	}{
		{"no results", []string{rcvd, "From: staff@example.jp"}, id, AuthNone},
		{"no trusted id configured", []string{"Authentication-Results: mx.example.jp; dmarc=pass header.from=example.jp"}, "", AuthNone},
		{"dmarc pass", []string{rcvd, "Authentication-Results: mx.example.jp;\r\n dkim=pass header.d=example.jp;\r\n spf=pass smtp.mailfrom=staff@example.jp;\r\n dmarc=pass (p=NONE) header.from=example.jp"}, id, AuthPass},
		{"version and comments", []string{"Authentication-Results: mx.example.jp 1; dmarc=pass (policy=reject) header.from=example.jp"}, id, AuthPass},
		{"id is case-insensitive", []string{"Authentication-Results: MX.Example.JP; dmarc=pass header.from=Example.JP"}, id, AuthPass},
		{"dmarc fail", []string{rcvd, "Authentication-Results: mx.example.jp; spf=pass smtp.mailfrom=example.jp; dmarc=fail header.from=example.jp"}, id, AuthFail},
		{"dmarc pass for another domain", []string{"Authentication-Results: mx.example.jp; dmarc=pass header.from=evil.example"}, id, AuthFail},
		{"aligned dkim", []string{"Authentication-Results: mx.example.jp; dkim=pass header.d=example.jp; dmarc=none"}, id, AuthPass},
		{"aligned spf", []string{"Authentication-Results: mx.example.jp; spf=pass smtp.mailfrom=staff@example.jp"}, id, AuthPass},
		{"unaligned dkim and spf", []string{"Authentication-Results: mx.example.jp; dkim=pass header.d=mailer.example.net; spf=pass smtp.mailfrom=bounce@mailer.example.net"}, id, AuthFail},
		{"softfail", []string{"Authentication-Results: mx.example.jp; spf=softfail smtp.mailfrom=example.jp"}, id, AuthFail},
		{"only another server's results", []string{rcvd, "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.jp"}, id, AuthNone},
		// A copy with our server's id that came with the message (below an
		// earlier hop's Received) does not count; the server's own does.
		{"forged copy below", []string{rcvd, "Authentication-Results: mx.example.jp; dmarc=fail header.from=example.jp", rcvdOut,
			"Authentication-Results: mx.example.jp; dmarc=pass header.from=example.jp"}, id, AuthFail},
		{"forged copy below, none on top", []string{rcvd, "Authentication-Results: mx.other.example; dmarc=none", rcvdOut,
			"Authentication-Results: mx.example.jp; dmarc=pass header.from=example.jp"}, id, AuthNone},
		{"two milters on top", []string{rcvd, "Authentication-Results: mx.example.jp; dmarc=pass header.from=example.jp",
			"Authentication-Results: mx.example.jp; dkim=pass header.d=example.jp"}, id, AuthPass},
		{"unparsable", []string{"Authentication-Results: mx.example.jp; garbage"}, id, AuthFail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CheckAuth(header(t, tc.fields...), tc.id, dom); got != tc.want {
				t.Errorf("CheckAuth = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNormalAddress(t *testing.T) {
	for in, want := range map[string]string{
		"sato+7@example.jp":        "sato@example.jp",
		"Sato <SATO+x@Example.JP>": "sato@example.jp",
		"sato@example.jp":          "sato@example.jp",
		"not an address":           "",
		"+tag@example.jp":          "+tag@example.jp",
	} {
		if got := NormalAddress(in); got != want {
			t.Errorf("NormalAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

// CheckAuth reads fields a sender can write: any header gives a verdict
// without panicking, and a field from another authserv-id never passes.
func FuzzCheckAuth(f *testing.F) {
	f.Add("mx.example.jp; dmarc=pass header.from=example.jp")
	f.Add("mx.example.jp 1; spf=pass (comment (nested)) smtp.mailfrom=a@example.jp; dkim=pass header.i=@example.jp")
	f.Add("spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.jp; dmarc=pass action=none header.from=example.jp")
	f.Add("mx.example.jp; none")
	f.Fuzz(func(t *testing.T, v string) {
		if strings.ContainsAny(v, "\r\n") {
			return
		}
		h := mail.Header{}
		h.Add("Authentication-Results", v)
		got := CheckAuth(h, "mx.example.jp", "example.jp")
		if got != AuthNone && got != AuthPass && got != AuthFail {
			t.Fatalf("verdict %q", got)
		}
		if got == AuthPass {
			if id, _, _ := strings.Cut(strings.TrimSpace(unfold(v)), ";"); !strings.EqualFold(strings.Fields(id + " x")[0], "mx.example.jp") {
				t.Fatalf("pass from another authserv-id: %q", v)
			}
		}
	})
}
