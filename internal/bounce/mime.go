package bounce

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
)

// parts is what the MIME walk collects from one message.
type parts struct {
	header    textproto.Header // top-level header
	texts     []string         // human-readable text parts, decoded to UTF-8, in order
	htmls     []string         // text/html parts, used only when there is no plain text
	status    []string         // message/delivery-status bodies
	feedback  string           // message/feedback-report body
	mdn       bool             // a message/disposition-notification part was seen
	orig      *textproto.Header
	origFound bool
	origRaw   string // the first returned message/rfc822, whole (for reports wrapped in a report)
	reportTyp string // report-type parameter of a multipart/report
	nparts    int
	truncated bool
}

var errTooManyParts = errors.New("too many MIME parts")

// normalize converts CR and CRLF line endings to LF. It returns raw
// unchanged (no copy) when there is no CR.
func normalize(raw []byte) []byte {
	if bytes.IndexByte(raw, '\r') < 0 {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '\r' {
			// CRLF, and CR CR LF (a relayed response inside a CRLF message), end one line.
			j := i + 1
			for j < len(raw) && raw[j] == '\r' {
				j++
			}
			if j < len(raw) && raw[j] == '\n' {
				i = j - 1
				continue
			}
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// walk parses raw with go-message and collects the parts that matter.
//
// Reading is tolerant: a part that is broken (a body cut off before its
// closing boundary, bad base64 or quoted-printable, a wrong charset label)
// is kept as far as it can be read, and the parts after it are still read.
// When go-message's multipart reader gives up (a malformed part header, a
// part without a header), the rest of the body is split at its boundary
// lines instead (see splitParts). The first problem met is returned as the
// error; it does not stop the walk.
func walk(raw []byte, lim Limits) (*parts, error) {
	p := &parts{}
	// An mbox "From " separator line is not part of the message.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	rd := bytes.NewReader(raw)
	br := bufio.NewReaderSize(rd, 4096)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		// A header go-message refuses: read it leniently, keep the rest as text.
		hdr, body := lenientHeader(raw)
		p.header = hdr
		p.texts = append(p.texts, decodeText(body, ""))
		return p, fmt.Errorf("header: %w", err)
	}
	p.header = h
	body := raw[len(raw)-rd.Len()-br.Buffered():]
	werr := p.entity(h, body, 0, lim)
	if werr != nil && len(p.texts) == 0 && len(p.status) == 0 && len(p.htmls) == 0 {
		// Broken structure (a multipart without a usable boundary): read the
		// body as text so that what it says is not lost.
		p.texts = append(p.texts, decodeText(body, ""))
	}
	return p, werr
}

// entity collects one MIME entity: h is its header, body its raw
// (transfer-encoded) body.
func (p *parts) entity(h textproto.Header, body []byte, depth int, lim Limits) error {
	p.nparts++
	if p.nparts > lim.MaxParts {
		p.truncated = true
		return errTooManyParts
	}
	mh := messageHeader(h)
	mt, params, _ := mh.ContentType()
	mt = strings.ToLower(mt)
	if strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" {
		if mt == "multipart/report" && p.reportTyp == "" {
			p.reportTyp = strings.ToLower(params["report-type"])
		}
		if depth >= lim.MaxDepth {
			p.truncated = true
			return fmt.Errorf("MIME nesting deeper than %d", lim.MaxDepth)
		}
		return p.multipart(body, params["boundary"], depth, lim)
	}
	return p.leaf(h, mt, params["charset"], body, depth)
}

// multipart reads the parts of a multipart body with go-message's reader.
// A part whose body ends early (no closing boundary) is kept as read. When
// the reader cannot go on (a part header it refuses), the parts it has not
// read are taken from a line-level split of the body.
func (p *parts) multipart(body []byte, boundary string, depth int, lim Limits) error {
	mr := textproto.NewMultipartReader(bytes.NewReader(body), boundary)
	var firstErr error
	keep := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for done := 0; ; done++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return firstErr
		}
		if err != nil {
			keep(fmt.Errorf("multipart: %w", err))
			if err := p.splitParts(body, boundary, done, depth, lim); err != nil {
				if errors.Is(err, errTooManyParts) {
					return err
				}
			}
			return firstErr
		}
		raw, rerr := io.ReadAll(part)
		if err := p.entity(part.Header, raw, depth+1, lim); err != nil {
			if errors.Is(err, errTooManyParts) {
				return err
			}
			keep(err)
		}
		if rerr != nil {
			// The body ended inside this part (no closing boundary): what
			// was read is kept, and there is nothing after it.
			keep(fmt.Errorf("body: %w", rerr))
			return firstErr
		}
	}
}

// leaf collects a part that is not a multipart. Attachments other than
// text and reports are not decoded at all.
func (p *parts) leaf(h textproto.Header, mt, label string, raw []byte, depth int) error {
	var body string
	var err error
	read := func() { body, err = decodeBody(h, raw, label) }
	switch {
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		read()
		p.status = append(p.status, body)
	case mt == "message/feedback-report":
		read()
		p.feedback = body
	case mt == "message/disposition-notification" || mt == "message/global-disposition-notification":
		p.mdn = true
	case mt == "message/rfc822" || mt == "message/global" || mt == "text/rfc822-headers" || mt == "message/rfc822-headers" || mt == "message/partial":
		read()
		body = trimBeforeHeader(body)
		if p.origRaw == "" && mt != "text/rfc822-headers" {
			p.origRaw = body
		}
		if !p.origFound {
			if h, ok := origHeader(body); ok {
				p.orig = &h
				p.origFound = true
			}
		}
	case mt == "text/html":
		read()
		p.htmls = append(p.htmls, body)
	case mt == "" || strings.HasPrefix(mt, "text/") || strings.HasPrefix(mt, "multipart/"):
		// A multipart without a boundary cannot be split: its body is text.
		read()
		if p.feedback == "" && strings.Contains(body, ":") {
			p.feedback = arfFields(body) // ARF feedback fields sent as text
		}
		p.texts = append(p.texts, body)
	}
	return err
}

// decodeBody undoes a part's transfer encoding with go-message and its
// charset (see decodeText). A body that does not decode cleanly is decoded
// leniently: what was readable is kept, and the error says what was not.
func decodeBody(h textproto.Header, raw []byte, label string) (string, error) {
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if cte == "" || cte == "7bit" || cte == "8bit" || cte == "binary" {
		return decodeText(raw, label), nil
	}
	if cte == "base64" && !looksBase64(raw) {
		// Plain text under a base64 label: decoding would turn it into
		// noise.
		return decodeText(raw, label), errors.New("body: labelled base64, not base64")
	}
	var eh textproto.Header
	eh.Set("Content-Transfer-Encoding", cte)
	e, err := message.New(message.Header{Header: eh}, bytes.NewReader(raw))
	if err != nil {
		// An encoding go-message does not know (x-uuencode, a typo): the
		// bytes are read as they are.
		return decodeText(raw, label), fmt.Errorf("body: %w", err)
	}
	b, err := io.ReadAll(e.Body)
	if err != nil {
		switch cte {
		case "base64":
			b = lenientBase64(raw)
		case "quoted-printable":
			b = lenientQP(raw)
		}
		return decodeText(b, label), fmt.Errorf("body: %w", err)
	}
	return decodeText(b, label), nil
}

// decodeText turns the bytes of a text, whose charset label may be
// missing or wrong, into UTF-8. Japanese mail is often mislabelled:
// ISO-2022-JP sent as us-ascii, Shift_JIS or EUC-JP sent as iso-8859-1 or
// without a label, UTF-8 sent as ISO-2022-JP. The bytes decide when they
// contradict the label: ISO-2022-JP escape sequences, valid UTF-8, or high
// bytes that decode cleanly as Shift_JIS or EUC-JP. Otherwise the label is
// read with go-message's charset table.
func decodeText(b []byte, label string) string {
	if bytes.IndexByte(b, 0x1b) >= 0 && (bytes.Contains(b, []byte("\x1b$B")) || bytes.Contains(b, []byte("\x1b$@"))) {
		if s, ok := decodeWith(japanese.ISO2022JP, b); ok {
			return s
		}
	}
	l := strings.ToLower(strings.TrimSpace(label))
	wide := strings.HasPrefix(l, "utf-16") || strings.HasPrefix(l, "utf-32") || strings.HasPrefix(l, "ucs-")
	if utf8.Valid(b) && !wide {
		return string(b)
	}
	switch l {
	case "", "us-ascii", "ascii", "utf-8", "utf8", "iso-2022-jp":
		// No label, or one these bytes cannot be in (not ASCII, not UTF-8,
		// no escapes).
		return guessJapanese(b)
	case "iso-8859-1", "latin1", "windows-1252", "cp1252":
		// A Western label on Japanese bytes: trusted only when the bytes
		// do not read as Japanese text (kana).
		if g := guessJapanese(b); !strings.ContainsRune(g, utf8.RuneError) && hasKana(g) {
			return g
		}
	}
	r, err := charset.Reader(l, bytes.NewReader(b))
	if err != nil {
		return guessJapanese(b)
	}
	out, err := io.ReadAll(r)
	if err != nil || bytes.Contains(out, []byte("\uFFFD")) {
		// The label does not fit the bytes (or a bytes sequence is cut):
		// guessing does better than replacement characters, if it can.
		if g := guessJapanese(b); !strings.ContainsRune(g, utf8.RuneError) {
			return g
		}
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// guessJapanese decodes bytes that are not UTF-8 as Shift_JIS (CP932) or
// EUC-JP, whichever reads them without error; failing both, it keeps the
// valid UTF-8 and replaces the rest.
func guessJapanese(b []byte) string {
	if s, ok := decodeWith(japanese.ShiftJIS, b); ok && !strings.ContainsRune(s, utf8.RuneError) {
		// Asked first: eucLikely is cheap, decoding is not.
		if eucLikely(b) {
			if e, ok2 := decodeWith(japanese.EUCJP, b); ok2 && !strings.ContainsRune(e, utf8.RuneError) {
				return e
			}
		}
		return s
	}
	if s, ok := decodeWith(japanese.EUCJP, b); ok && !strings.ContainsRune(s, utf8.RuneError) {
		return s
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// eucLikely reports whether high bytes come in EUC-JP pairs (both 0xA1-0xFE).
func eucLikely(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x80 {
			continue
		}
		if c == 0x8E && i+1 < len(b) { // half-width kana
			i++
			continue
		}
		if c < 0xA1 || i+1 >= len(b) || b[i+1] < 0xA1 {
			return false
		}
		i++
	}
	return true
}

func decodeWith(enc encoding.Encoding, b []byte) (string, bool) {
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return "", false
	}
	return string(out), true
}

// lenientHeader splits raw into a header and a body without failing: lines
// that are not fields are skipped.
func lenientHeader(raw []byte) (textproto.Header, []byte) {
	end := bytes.Index(raw, []byte("\n\n"))
	var hb, body []byte
	if end < 0 {
		hb, body = raw, nil
	} else {
		hb, body = raw[:end+1], raw[end+2:]
	}
	return parseFields(string(hb)), body
}

// origHeader parses the header block at the start of s (a returned message
// or text/rfc822-headers). It keeps only the fields that fillOriginal reads
// (origFields) and reports whether the block had any field at all.
func origHeader(s string) (textproto.Header, bool) {
	s = strings.TrimLeft(s, "\n")
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i+1]
	}
	h, n := parseFieldsKeep(s, isOrigField)
	return h, n > 0
}

// origFields are the fields of a returned message's header that
// fillOriginal reads, lowercase.
var origFields = []string{"message-id", "from", "to", "subject", "date"}

// isOrigField reports whether name is one of origFields in any ASCII case.
// Such a name holds only letters and hyphens, so textproto's canonical form
// of it is the one Get looks up.
func isOrigField(name string) bool {
	for _, f := range origFields {
		if len(name) == len(f) && hasPrefixFold(name, f) {
			return true
		}
	}
	return false
}

// parseFields reads "Name: value" lines with folding; other lines are ignored.
func parseFields(s string) textproto.Header {
	h, _ := parseFieldsKeep(s, nil)
	return h
}

// parseFieldsKeep is parseFields that adds to h only the fields whose name
// keep accepts (all when keep is nil); n counts every field read.
func parseFieldsKeep(s string, keep func(name string) bool) (h textproto.Header, n int) {
	var name, val string
	kept := false
	flush := func() {
		if name != "" {
			n++
			if kept {
				h.Add(name, strings.TrimSpace(val))
			}
		}
		name, val, kept = "", "", false
	}
	for rest := s; ; {
		line := rest
		i := strings.IndexByte(rest, '\n')
		if i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		}
		switch {
		case line == "":
		case (line[0] == ' ' || line[0] == '\t') && name != "":
			if kept {
				val += " " + strings.TrimSpace(line)
			}
		default:
			j := strings.IndexByte(line, ':')
			if j <= 0 || strings.ContainsAny(line[:j], " \t") {
				flush()
				break
			}
			flush()
			name, val = line[:j], line[j+1:]
			kept = keep == nil || keep(name)
		}
		if i < 0 {
			break
		}
	}
	flush()
	return h, n
}
