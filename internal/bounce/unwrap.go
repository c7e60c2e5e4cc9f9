package bounce

// Unwrapping: MTAs wrap the receiver's reply in their own words (Postfix
// "host ... said:", Exim "SMTP error from remote mail server after ...",
// Amazon SES quotes); these functions take the reply out, with the remote
// host and the SMTP command the wrapper names.

import (
	"strings"
	"unicode"
)

// unwrap strips MTA wrappers around the receiver's words and returns them
// with the remote host and the SMTP command when the wrapper names them.
func unwrap(d string) (core, host, command string) {
	// low and lc are lowerASCII(d) and lowerASCII(core), kept in step with
	// d and core by slicing (lowerASCII keeps every byte offset).
	low := lowerASCII(d)
	core, lc := d, low
	// Postfix: "host mx.example.net[192.0.2.1] said: 550 ... (in reply to RCPT TO command)".
	if i := strings.Index(low, " said:"); i >= 0 {
		pre := low[:i]
		if k := strings.LastIndex(pre, "host "); k >= 0 {
			h := pre[k+5:]
			if b := strings.IndexAny(h, "[ "); b > 0 {
				h = h[:b]
			}
			host = strings.Trim(h, ".")
		}
		core, lc = trimSpaceLow(d[i+6:], low[i+6:])
	}
	if i := strings.Index(lc, "(in reply to "); i >= 0 {
		rest := lc[i+13:]
		command = commandWord(rest)
		if j := strings.IndexByte(core[i:], ')'); j >= 0 {
			core = strings.TrimSpace(core[:i] + core[i+j+1:])
			lc = lowerASCII(core)
		}
	}
	// Exim: "SMTP error from remote mail server after RCPT TO:<a@b>: 550 ...". Also
	// "host mx.example.net [192.0.2.1]: 550 ...".
	if i := strings.Index(lc, "smtp error from remote mail"); i >= 0 {
		rest, lr := core[i:], lc[i:]
		if k := strings.Index(lr, "after "); k >= 0 {
			command = commandWord(lr[k+6:])
		}
		if j := strings.Index(rest, ">:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+2:], lr[j+2:])
		} else if j := strings.Index(lr, "data:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+5:], lr[j+5:])
		} else if j := strings.Index(lr, "connection:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+11:], lr[j+11:])
		} else if j := strings.Index(lr, "greeting:"); j >= 0 {
			core, lc = trimSpaceLow(rest[j+9:], lr[j+9:])
		}
	}
	// Amazon SES: "5.1.0 - Unknown address error 550-'5.7.1 <a@b>... Access
	// denied' (delivery attempts: 0)": SES's own words, then the receiver's
	// reply in quotes.
	if i := strings.Index(lc, "(delivery attempts:"); i > 0 {
		if c, ok := sesReply(core[:i]); ok {
			core, lc = c, lowerASCII(c)
		}
	}
	for _, w := range []string{"remote host said:", "the response from the remote server was:", "the response was:", "remote server returned '", "remote server replied:", "said: "} {
		if i := strings.Index(lc, w); i >= 0 {
			core, lc = trimSpaceLow(core[i+len(w):], lc[i+len(w):])
			core = strings.TrimSuffix(core, "'")
			lc = lc[:len(core)]
		}
	}
	if host == "" {
		host = remoteFromText(low)
	}
	if command == "" {
		command = commandOf(d)
	}
	return strings.TrimSpace(core), host, command
}

// sesReply returns the quoted SMTP reply of an Amazon SES diagnostic
// ("... 550-'5.7.1 ...' "), with its reply code, and whether there was one.
func sesReply(s string) (string, bool) {
	k := strings.LastIndexByte(s, '\'')
	for j := 4; j < k; j++ {
		if s[j] == '\'' && (s[j-1] == '-' || s[j-1] == ' ') && isDigit(s[j-4]) && isDigit(s[j-3]) && isDigit(s[j-2]) {
			return s[j-4:j-1] + " " + strings.TrimSpace(s[j+1:k]), true
		}
	}
	return "", false
}

// trimSpaceLow returns strings.TrimSpace(s) and the same span of low, where
// low is lowerASCII(s) (or any text of the same byte offsets).
func trimSpaceLow(s, low string) (string, string) {
	l := strings.TrimLeftFunc(s, unicode.IsSpace)
	off := len(s) - len(l)
	t := strings.TrimRightFunc(l, unicode.IsSpace)
	return t, low[off : off+len(t)]
}

func commandWord(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "rcpt"):
		return "RCPT"
	case strings.HasPrefix(s, "mail"):
		return "MAIL"
	case strings.HasPrefix(s, "end of data"), strings.HasPrefix(s, "data"), strings.HasPrefix(s, "end of message"):
		return "DATA"
	case strings.HasPrefix(s, "helo"), strings.HasPrefix(s, "ehlo"):
		return "HELO"
	case strings.HasPrefix(s, "initial connection"), strings.HasPrefix(s, "connect"), strings.HasPrefix(s, "greeting"), strings.HasPrefix(s, "banner"):
		return "CONN"
	case strings.HasPrefix(s, "starttls"):
		return "STARTTLS"
	}
	return ""
}

// commandCues are the wordings that name the SMTP command a text says
// failed; the first in this order that occurs wins.
var commandCues = []struct{ cue, cmd string }{
	{"in reply to rcpt to", "RCPT"}, {"<<< rcpt to", "RCPT"}, {"[rcpt_to]", "RCPT"}, {"rcpt to:<", "RCPT"}, {"after rcpt to", "RCPT"}, {">>> rcpt to", "RCPT"}, {"did not like our rcpt to", "RCPT"},
	{"in reply to end of data", "DATA"}, {"after end of data", "DATA"}, {"in reply to data", "DATA"}, {"after data", "DATA"}, {">>> data", "DATA"},
	{"in reply to mail from", "MAIL"}, {"[mail_from]", "MAIL"}, {"after mail from", "MAIL"}, {">>> mail from", "MAIL"}, {"did not like our mail from", "MAIL"},
	{"in reply to helo", "HELO"}, {"in reply to ehlo", "HELO"}, {"after helo", "HELO"}, {"after ehlo", "HELO"},
	{"after initial connection", "CONN"}, {"greeting", "CONN"},
}

var commandCueSet = func() *phraseSet {
	cues := make([]string, len(commandCues))
	for i, c := range commandCues {
		cues[i] = c.cue
	}
	return newPhraseSet(cues)
}()

// commandOf finds the SMTP command a text says failed. The text may be in
// any case (the cues are matched with ASCII case folding).
func commandOf(low string) string {
	if i := commandCueSet.first(low); i >= 0 {
		return commandCues[i].cmd
	}
	return ""
}

// remoteFromText finds the receiver's host name in a report's text.
func remoteFromText(low string) string {
	for _, cue := range []string{"while talking to ", "host ", "remote-mta: dns; ", "remote-mta: dns;", "remote server: ", "connected to "} {
		off := 0
		for {
			i := strings.Index(low[off:], cue)
			if i < 0 {
				break
			}
			i += off
			rest := low[i+len(cue):]
			j := 0
			for j < len(rest) && isDomainChar(rest[j]) {
				j++
			}
			h := strings.Trim(rest[:j], ".")
			if strings.Count(h, ".") >= 1 && !isIPWord(h) && !strings.HasSuffix(h, ".") {
				if j < len(rest) && (rest[j] == '[' || rest[j] == ' ' || rest[j] == ':' || rest[j] == '.' || rest[j] == '\n' || rest[j] == '(') {
					return h
				}
			}
			off = i + len(cue)
		}
	}
	return ""
}
