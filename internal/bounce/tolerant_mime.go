package bounce

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// What this file reads by hand, and why: go-message reads MIME; when it
// stops at a defect, these functions recover what is still readable instead
// of dropping the rest. The standard library has no lenient base64 or
// quoted-printable decoder, and go-message's multipart reader cannot resume
// after a part header it refuses.

// splitParts is the fallback when go-message's multipart reader stops: it
// splits body at its delimiter lines ("--boundary", RFC 2046 section 5.1.1)
// and collects every part from index skip on (the parts before were already
// read). A part's header ends at the first blank line or at the first line
// that is not a header field (a part written without its blank line); a
// missing closing delimiter ends the last part at the end of the body.
func (p *parts) splitParts(body []byte, boundary string, skip, depth int, lim Limits) error {
	dash := []byte("--" + boundary)
	var firstErr error
	idx := -1  // index of the part being read; -1 before the first delimiter
	start := 0 // start of the current part's bytes
	flush := func(end int) error {
		if idx < skip {
			return nil
		}
		h, b := splitPartHeader(body[start:end])
		err := p.entity(h, b, depth+1, lim)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return err
	}
	for off := 0; off < len(body); {
		nl := bytes.IndexByte(body[off:], '\n')
		end := len(body)
		if nl >= 0 {
			end = off + nl
		}
		line := bytes.TrimRight(body[off:end], " \t\r")
		next := end + 1
		if bytes.HasPrefix(line, dash) {
			rest := line[len(dash):]
			closing := bytes.Equal(rest, []byte("--"))
			if len(rest) == 0 || closing {
				if idx >= 0 {
					partEnd := off
					if partEnd > start && body[partEnd-1] == '\n' {
						partEnd-- // the line break before a delimiter belongs to it
					}
					if err := flush(partEnd); err == errTooManyParts {
						return err
					}
				}
				if closing {
					return firstErr
				}
				idx++
				start = min(next, len(body))
			}
		}
		off = next
	}
	if idx >= 0 {
		if err := flush(len(body)); err == errTooManyParts {
			return err
		}
	}
	return firstErr
}

// splitPartHeader splits one part into its header and body, leniently:
// header field lines and their continuations up to a blank line, or up to
// the first line that is not a field. A MIME parameter written on its own
// unindented line after a field that ends with ";" (Apache James writes
// "Content-Type: multipart/alternative;" then "boundary=..." at the start
// of the next line) is read as that field's continuation, as RFC 2045
// section 5.1's parameter list means it.
func splitPartHeader(part []byte) (header textproto.Header, body []byte) {
	off := 0
	var fixed []byte // the header with such parameter lines indented, once one is seen
	semicolon := false
	hdr := func(upto int) textproto.Header {
		if fixed != nil {
			return parseFields(string(fixed))
		}
		return parseFields(string(part[:upto]))
	}
	for off < len(part) {
		nl := bytes.IndexByte(part[off:], '\n')
		end := len(part)
		if nl >= 0 {
			end = off + nl
		}
		line := bytes.TrimRight(part[off:end], "\r")
		if len(line) == 0 {
			return hdr(off), part[min(end+1, len(part)):]
		}
		param := false
		if line[0] != ' ' && line[0] != '\t' {
			c := bytes.IndexByte(line, ':')
			eq := bytes.IndexByte(line, '=')
			param = semicolon && eq > 0 && (c < 0 || c > eq) && printableASCII(line[:eq]) && !bytes.ContainsAny(line[:eq], " \t")
			if !param && (c <= 0 || bytes.ContainsAny(line[:c], " \t") || !printableASCII(line[:c])) {
				return hdr(off), part[off:]
			}
		} else if off == 0 {
			return parseFields(""), part
		}
		if param && fixed == nil {
			fixed = append([]byte(nil), part[:off]...)
		}
		if fixed != nil {
			if param {
				fixed = append(fixed, ' ')
			}
			fixed = append(fixed, part[off:min(end+1, len(part))]...)
		}
		semicolon = bytes.HasSuffix(bytes.TrimRight(line, " \t"), []byte(";"))
		off = end + 1
	}
	return hdr(len(part)), nil
}

// trimBeforeHeader drops lines that stand before the header of a returned
// message and are not header fields (a stray line the reporting MTA left
// in the part's header), when a blank line and header fields follow them.
// Any other body is returned unchanged.
func trimBeforeHeader(s string) string {
	t := strings.TrimLeft(s, "\r\n")
	if t == "" || isFieldLine(t) {
		return s
	}
	i := strings.Index(t, "\n\n")
	if i < 0 || i > 4096 {
		return s
	}
	if rest := strings.TrimLeft(t[i:], "\r\n"); isFieldLine(rest) {
		return rest
	}
	return s
}

// isFieldLine reports whether s starts with "Name:" where Name is a header
// field name (printable ASCII without spaces).
func isFieldLine(s string) bool {
	c := strings.IndexByte(s, ':')
	if c <= 0 {
		return false
	}
	if nl := strings.IndexByte(s, '\n'); nl >= 0 && nl < c {
		return false
	}
	return printableASCII([]byte(s[:c]))
}

// printableASCII reports whether b holds only printable ASCII, as a header
// field name must (RFC 5322 section 2.2).
func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < '!' || c > '~' {
			return false
		}
	}
	return true
}

// lenientBase64 decodes what it can of a broken base64 body (RFC 2045
// section 6.8): characters outside the alphabet end a run, each run of
// alphabet characters is decoded on its own (a final incomplete quantum is
// decoded as far as it goes), and padding ends a run. A damaged line thus
// costs that line, not the rest of the part.
func lenientBase64(raw []byte) []byte {
	out := make([]byte, 0, len(raw)*3/4)
	run := make([]byte, 0, 76)
	flush := func() {
		n := len(run) &^ 3
		if rem := len(run) - n; rem >= 2 {
			n = len(run) // 2 or 3 leftover characters still carry 1 or 2 bytes
		}
		if n > 0 {
			buf := make([]byte, base64.RawStdEncoding.DecodedLen(n))
			m, _ := base64.RawStdEncoding.Decode(buf, run[:n])
			out = append(out, buf[:m]...)
		}
		run = run[:0]
	}
	bad := false // the current line had a character outside the alphabet
	for _, c := range raw {
		switch {
		case c == '\n':
			bad = false
		case c == ' ' || c == '\t' || c == '\r':
		case bad:
		case c == '=':
			flush()
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/':
			run = append(run, c)
		default:
			// Drop the rest of a damaged line; what came before it stands.
			flush()
			bad = true
		}
	}
	flush()
	return out
}

// looksBase64 reports whether any of the first five non-blank lines of raw
// is made of base64 characters only (RFC 2045 section 6.8 alphabet and
// padding). Text mislabelled base64 has spaces and punctuation on every line.
func looksBase64(raw []byte) bool {
	for n := 0; n < 5 && len(raw) > 0; {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		n++
		ok := true
		for _, c := range line {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// lenientQP decodes quoted-printable (RFC 2045 section 6.7) without ever
// failing: "=XX" with two hex digits is a byte, "=" at the end of a line is
// a soft line break, and anything else, including an "=" not followed by
// hex and control bytes that should have been encoded (raw ISO-2022-JP
// escapes), passes through as it is.
func lenientQP(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		j := i + 1
		for j < len(raw) && (raw[j] == ' ' || raw[j] == '\t' || raw[j] == '\r') {
			j++
		}
		if j == len(raw) || raw[j] == '\n' {
			i = j // soft line break
			continue
		}
		if i+2 < len(raw) && isHex(raw[i+1]) && isHex(raw[i+2]) {
			out = append(out, unhex(raw[i+1])<<4|unhex(raw[i+2]))
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// hasKana reports whether s holds hiragana or katakana, which only
// Japanese text does.
func hasKana(s string) bool {
	for _, r := range s {
		if r >= 0x3040 && r <= 0x30ff { // the Hiragana and Katakana blocks
			return true
		}
	}
	return false
}
