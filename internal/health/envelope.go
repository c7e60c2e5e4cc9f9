package health

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// SPFSource says where the domain whose SPF was checked came from. SPF is
// evaluated for the envelope sender (RFC 7208 2.4: the MAIL FROM identity;
// KB.md 8.3), which a bounce does not always show.
type SPFSource string

// Sources of the SPF domain.
const (
	SPFSourceGiven    SPFSource = ""         // given by a person (doctor --domain)
	SPFSourceEnvelope SPFSource = "envelope" // the envelope sender the bounce shows (see EnvelopeSenderDomain)
	SPFSourceFrom     SPFSource = "from"     // the From domain: the bounce did not show the envelope sender
	SPFSourceMailbox  SPFSource = "mailbox"  // the watched mailbox's domain: the bounce showed no sender at all
)

// maxHeaderParts bounds how many header blocks EnvelopeSenderDomain reads.
const maxHeaderParts = 8

// EnvelopeSenderDomain finds the envelope sender (MAIL FROM) of the message
// a bounce returned, and returns its lowercase domain, or "" when the bounce
// does not show it. It reads, in this order of trust:
//   - the per-message fields of a message/delivery-status part: Postfix's
//     "X-Postfix-Sender: rfc822; info@example.co.jp" (written by Postfix's
//     bounce daemon, which held the envelope);
//   - the Return-Path of the returned original's header, in a
//     message/rfc822, message/global (RFC 6533), text/rfc822-headers
//     (RFC 6522) or message/global-headers part.
//
// The bounce's own Return-Path (null for a bounce, RFC 5321 4.5.5) is not
// read. The MIME structure is read with go-message; a part that fails to
// decode is skipped, and at most maxHeaderParts header blocks are read.
func EnvelopeSenderDomain(raw []byte) string {
	e, err := message.Read(bytes.NewReader(raw))
	if e == nil || err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return ""
	}
	var postfix, returnPath string
	parts := 0
	stop := errors.New("stop")
	// Walk's error is that of a broken part after those read, or stop:
	// either changes nothing.
	_ = e.Walk(func(path []int, p *message.Entity, _ error) error {
		if p == nil || path == nil { // the bounce itself
			return nil
		}
		mt, _, _ := p.Header.ContentType()
		mt = strings.ToLower(mt)
		switch mt {
		case "message/delivery-status", "message/global-delivery-status",
			"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
		default:
			return nil
		}
		if parts++; parts > maxHeaderParts {
			return stop
		}
		h, err := textproto.ReadHeader(bufio.NewReader(io.LimitReader(p.Body, 256<<10)))
		if err != nil && h.Len() == 0 {
			return nil
		}
		if strings.HasSuffix(mt, "delivery-status") {
			if typ, addr, ok := strings.Cut(h.Get("X-Postfix-Sender"), ";"); ok && strings.EqualFold(strings.TrimSpace(typ), "rfc822") && postfix == "" {
				postfix = pathDomain(addr)
			}
		} else if returnPath == "" {
			returnPath = pathDomain(h.Get("Return-Path"))
		}
		if postfix != "" {
			return stop
		}
		return nil
	})
	if postfix != "" {
		return postfix
	}
	return returnPath
}

// pathDomain is the domain of a Return-Path value (RFC 5321 4.4:
// "<" [ A-d-l ":" ] Mailbox ">"), "" for the null path or a value that is
// not an address.
func pathDomain(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || v == "<>" {
		return ""
	}
	// A source route (obsolete) comes before the colon.
	if i := strings.IndexByte(v, ':'); i >= 0 && strings.HasPrefix(v, "<@") {
		v = "<" + v[i+1:]
	}
	if !strings.ContainsAny(v, "<>") {
		v = "<" + v + ">"
	}
	a, err := mail.ParseAddress(v)
	if err != nil {
		return ""
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return ""
	}
	d := strings.ToLower(strings.TrimSuffix(a.Address[at+1:], "."))
	if !zoneRE.MatchString(d) {
		return ""
	}
	return d
}
