package health_test

import (
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/health"
)

// bounceWith is a multipart/report bounce (RFC 3464) with the given
// per-message DSN fields and returned part; written for these tests.
func bounceWith(perMessage, returnedType, returned string) []byte {
	m := "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.example.net\r\nTo: info@example.co.jp\r\n" +
		"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n" +
		"--b1\r\nContent-Type: message/delivery-status\r\n\r\n" +
		"Reporting-MTA: dns; mx.example.net\r\n" + perMessage + "\r\n" +
		"Final-Recipient: rfc822; user@example.com\r\nAction: failed\r\nStatus: 5.7.1\r\n"
	if returnedType != "" {
		m += "\r\n--b1\r\nContent-Type: " + returnedType + "\r\n\r\n" + returned
	}
	return []byte(m + "\r\n--b1--\r\n")
}

const original = "From: Office <info@example.co.jp>\r\nTo: user@example.com\r\nSubject: hello\r\n\r\nbody\r\n"

func TestEnvelopeSenderDomain(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"Postfix X-Postfix-Sender",
			bounceWith("X-Postfix-Sender: rfc822; bounce@lists.example.net\r\n", "message/rfc822", original), "lists.example.net"},
		{"X-Postfix-Sender before the Return-Path of the original",
			bounceWith("X-Postfix-Sender: rfc822; bounce@lists.example.net\r\n", "message/rfc822",
				"Return-Path: <other@example.org>\r\n"+original), "lists.example.net"},
		{"Return-Path of a returned original",
			bounceWith("", "message/rfc822", "Return-Path: <news@mail.Example.COM>\r\n"+original), "mail.example.com"},
		{"Return-Path of returned headers (RFC 6522)",
			bounceWith("", "text/rfc822-headers", "Return-Path: <info@example.co.jp>\r\n"+original), "example.co.jp"},
		{"a source route before the mailbox (RFC 5321 4.1.2)",
			bounceWith("", "message/rfc822", "Return-Path: <@relay.example:info@example.co.jp>\r\n"+original), "example.co.jp"},
		{"no envelope sender shown", bounceWith("", "message/rfc822", original), ""},
		{"null Return-Path in the original", bounceWith("", "message/rfc822", "Return-Path: <>\r\n"+original), ""},
		{"X-Postfix-Sender not an address", bounceWith("X-Postfix-Sender: rfc822; <>\r\n", "", ""), ""},
		{"the bounce's own Return-Path is not the original's",
			[]byte("Return-Path: <postmaster@example.org>\r\nFrom: postmaster@example.org\r\nSubject: failure\r\n\r\nUser unknown\r\n"), ""},
		{"not a message", []byte("\x00\x01garbage"), ""},
		{"empty", nil, ""},
	} {
		if got := health.EnvelopeSenderDomain(c.raw); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// A bounce of many returned parts is read only so far.
func TestEnvelopeSenderDomainBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@mx.example.net\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n")
	for range 100 {
		b.WriteString("--b\r\nContent-Type: message/rfc822\r\n\r\n" + original)
	}
	b.WriteString("--b\r\nContent-Type: message/rfc822\r\n\r\nReturn-Path: <late@example.net>\r\n" + original + "--b--\r\n")
	if got := health.EnvelopeSenderDomain([]byte(b.String())); got != "" {
		t.Errorf("the 101st returned part was read: %q", got)
	}
}
