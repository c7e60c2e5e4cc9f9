package bounce

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

func messageHeader(h textproto.Header) message.Header { return message.Header{Header: h} }

// Local parts and display names of the senders of delivery reports. Lowercase.
var daemonSenders = []string{
	"mailer-daemon", "mailer_daemon", "post_master", "maildaemon", "mail-daemon", "postmaster", "mail delivery",
	"mail administrator", "mdaemon", "mail system", "mailsystem", "mail-system", "delivery subsystem",
	"mailerdaemon", "nobody@", "returned mail", "mail router", "smtp gateway", "mail gateway",
	"postoffice", "post office", "microsoftexchange", "mailer@", "bounce", "daemon@", "root@",
	"system administrator", "sysadmin", "notification", "mail-notify", "administrator@",
}

// Subjects of delivery reports, lowercase.
var bounceSubjects = []string{
	"undeliver", "undelivered", "returned mail", "return mail", "returned to sender", "failure notice",
	"delivery status notification", "mail delivery failed", "delivery failure", "delivery failed",
	"non-delivery", "nondeliverable", "non delivery", "not delivered", "could not send message",
	"could not be delivered", "delayed mail", "delivery delayed", "warning: could not", "mail system error",
	"delivery notification", "delivery problem", "message delivery", "failed delivery", "mail failure",
	"returned message", "permanent error", "delivery report", "message not delivered", "error sending message",
	"rejected", "bounce", "mail could not", "delivery final", "ndn", "unable to deliver", "delivery has failed",
	"failure delivery", "message you sent", "undeliverable", "problem delivering", "delivery error",
	"配信", "不達", "エラー", "送信できません", "届きません", "配送", "戻りメール", "返送",
}

// Phrases in a report's text that say delivery failed, lowercase.
var bounceBodies = []string{
	"could not be delivered", "was not delivered", "wasn't delivered", "delivery has failed",
	"delivery to the following recipient", "unable to deliver", "permanent error", "fatal error",
	"i'm afraid i wasn't able to deliver", "this is the mail system", "the following address", "failed recipient",
	"delivery failed", "undeliverable", "couldn't be delivered", "could not deliver", "returned to sender",
	"message could not", "delivery status notification", "transcript of session", "following recipients",
	"following addresses", "the original message was received", "diagnostic", "remote host said",
	"smtp error", "error message", "delivery to", "was undeliverable", "not be delivered", "failed to deliver",
	"delayed", "delivery attempts", "returned mail", "your message", "rejected", "user unknown",
	"配信できません", "届けることができません", "送信できませんでした", "宛先", "エラー",
}

func (a *analysis) daemonSender() bool {
	return daemonSenderSet.any(a.fromRaw)
}

// Compiled forms of the phrase lists above, for one-pass matching.
var (
	daemonSenderSet   = newPhraseSet(daemonSenders)
	bounceSubjectSet  = newPhraseSet(bounceSubjects)
	bounceBodySet     = newPhraseSet(bounceBodies)
	originalMarkerSet = newPhraseSet(originalMarkers)
)

// looksLikeBounce decides, for a message without a delivery-status part, whether
// it is a delivery report: it must open with an MTA's preamble
// (mtaPreamble), carry a report subject, come from the null sender or from
// a mail system's mailbox, and say so in its text. The From local part is
// one signal among these, never required.
func (a *analysis) looksLikeBounce() bool {
	h := a.p.header
	if h.Get("X-Failed-Recipients") != "" {
		return true
	}
	if a.humanReply() {
		return false // a person replying to a bounce and quoting it
	}
	fromDaemon := a.daemonSender()
	subj := bounceSubjectSet.any(a.subject)
	nullPath := strings.TrimSpace(h.Get("Return-Path")) == "<>"
	pre := a.mtaPreamble()
	if !fromDaemon && !subj && !nullPath && !pre {
		return false
	}
	if lowerASCII(h.Get("Precedence")) == "list" || h.Get("List-Id") != "" || h.Get("List-Unsubscribe") != "" {
		if !fromDaemon && !pre {
			return false
		}
	}
	if !pre && !subj && !bounceBodySet.any(a.low) {
		return false
	}
	// A report has to name a recipient somewhere.
	return strings.Contains(a.text, "@") || a.p.origFound || h.Get("X-Failed-Recipients") != ""
}

// forwardedByHuman: a person forwarding a bounce to a colleague is not a bounce.
func (a *analysis) forwardedByHuman() bool {
	s := strings.TrimSpace(a.subject)
	fwd := false
	for _, p := range []string{"fwd:", "fw:", "転送:", "tr:", "wg:", "rv:", "fwd ", "[fwd"} {
		if strings.HasPrefix(s, p) {
			fwd = true
		}
	}
	if !fwd {
		return false
	}
	return !a.daemonSender() && !a.mtaPreamble()
}

// inlineDSN reports a delivery-status block written into the text.
func (a *analysis) inlineDSN() bool {
	if a.humanReply() {
		return false // a person quoting a bounce's delivery-status block
	}
	low := a.low
	return strings.Contains(low, "final-recipient:") || (strings.Contains(low, "original-recipient:") && strings.Contains(low, "status:"))
}

// Markers that introduce the returned message inside the text, lowercase.
var originalMarkers = []string{
	"below this line is a copy of the message", "this is a copy of the message", "original message follows",
	"original message headers", "header of the original message", "the original message was",
	"----- original message -----", "original message --", "--- original message", "unsent message follows",
	"unsent message below", "returned message follows", "message headers follow", "the text you sent follows",
	"copy of the original message", "original message:", "headers of your message", "your message reads",
	"the message you sent", "----- message text follows", "-----original message-----", "------ returned message",
	"content-type: message/rfc822", "------ the body of the message", "--- below this line",
	"following is a copy of the original", "original message header", "-- original message",
	"included is a copy of the message header",
	"以下は元のメッセージ", "元のメッセージ", "原文", "元メール",
}

// splitOriginal cuts text at the start of an inline returned message: at
// the line of the earliest marker (each marker counted at its first
// occurrence). It reads text only up to that marker.
func splitOriginal(text string) (head, tail string) {
	best := originalMarkerSet.earliest(text, func(id, at int) bool {
		// "The original message was received at ..." (sendmail) opens the report; skip it.
		return originalMarkers[id] != "the original message was" ||
			!strings.Contains(lowerASCII(text[at:min(len(text), at+40)]), "received")
	})
	if best < 0 {
		return text, ""
	}
	ls := strings.LastIndexByte(text[:best], '\n') + 1
	return text[:ls], text[ls:]
}

// skipToHeaders drops the marker line and blank lines before a header block.
func skipToHeaders(tail string) string {
	if i := strings.IndexByte(tail, '\n'); i >= 0 {
		tail = tail[i+1:]
	}
	// Skip lines until one that looks like a header field.
	for tail != "" {
		line := tail
		rest := ""
		if i := strings.IndexByte(tail, '\n'); i >= 0 {
			line, rest = tail[:i], tail[i+1:]
		}
		t := strings.TrimSpace(line)
		if i := strings.IndexByte(t, ':'); i > 0 && !strings.ContainsAny(t[:i], " \t") {
			return strings.TrimLeft(tail, " \t")
		}
		if t != "" && !strings.HasPrefix(t, "-") && !strings.HasPrefix(t, "=") && !strings.HasPrefix(t, "*") {
			return ""
		}
		tail = rest
	}
	return ""
}

// stripHTML returns the text of an HTML part, roughly.
func stripHTML(s string) string {
	var b strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<':
			in = true
			if i+3 < len(s) && (strings.EqualFold(s[i:i+3], "<br") || strings.EqualFold(s[i:i+2], "<p")) {
				b.WriteByte('\n')
			}
		case c == '>':
			in = false
		case !in:
			b.WriteByte(c)
		}
	}
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&nbsp;", " ", "&quot;", "\"", "&#39;", "'")
	return r.Replace(b.String())
}

// Candidate reports, from a message's header block alone, whether the
// message may be a bounce, delay, auto-reply or complaint report and so is
// worth fetching whole. It errs on the side of true.
func Candidate(header []byte) bool {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(normalize(header), '\n', '\n'))))
	if err != nil {
		lh, _ := lenientHeader(normalize(header))
		h = lh
	}
	ct := lowerASCII(h.Get("Content-Type"))
	if strings.Contains(ct, "multipart/report") {
		return true
	}
	if h.Get("X-Failed-Recipients") != "" || h.Get("Auto-Submitted") != "" || h.Get("X-Autoreply") != "" ||
		h.Get("X-Auto-Reply") != "" || h.Get("X-Autorespond") != "" || h.Get("X-Autogenerated") != "" ||
		h.Get("X-Auto-Response-Suppress") != "" || strings.TrimSpace(h.Get("Return-Path")) == "<>" ||
		(h.Get("Precedence") != "" && !strings.EqualFold(strings.TrimSpace(h.Get("Precedence")), "list")) ||
		h.Get("X-MS-Exchange-Inbox-Rules-Loop") != "" || h.Get("X-Apple-Action") != "" ||
		h.Get("X-MS-Exchange-Generated-Message-Source") != "" ||
		// Amazon SNS delivers SES bounce and complaint notifications as
		// plain mail from an ordinary address; its header marks them.
		h.Get("X-Amz-Sns-Message-Id") != "" {
		return true
	}
	mh := mailHeader(h)
	subj, _ := mh.Subject()
	subj = lowerASCII(subj)
	from := lowerASCII(h.Get("From"))
	if containsAny(from, daemonSenders...) || containsAny(subj, bounceSubjects...) {
		return true
	}
	return containsAny(subj, "out of office", "automatic reply", "auto", "不在", "自動", "vacation", "away") ||
		autoReplyWordSet.any(subj) || hasAnyPrefix(strings.TrimSpace(subj), autoReplyPrefixes) ||
		hasAnyPrefix(strings.TrimSpace(subj), complaintSubjects) || strings.Contains(subj, "abuse report")
}
