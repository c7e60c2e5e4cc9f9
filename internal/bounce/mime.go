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
	_ "github.com/emersion/go-message/charset" // registers ISO-2022-JP, Shift_JIS, EUC-JP and friends
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
func walk(raw []byte, lim Limits) (*parts, error) {
	p := &parts{}
	// An mbox "From " separator line is not part of the message.
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	br := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		// A header go-message refuses: read it leniently, keep the rest as text.
		hdr, body := lenientHeader(raw)
		p.header = hdr
		p.texts = append(p.texts, decodeText(body, ""))
		return p, fmt.Errorf("header: %w", err)
	}
	p.header = h
	ent, err := message.New(message.Header{Header: h}, br)
	if err != nil && ent == nil {
		return p, err
	}
	werr := p.entity(ent, 0, lim)
	if werr != nil && len(p.texts) == 0 && len(p.status) == 0 && len(p.htmls) == 0 {
		// Broken structure (a multipart without a usable boundary): read the
		// body as text so that what it says is not lost.
		if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
			p.texts = append(p.texts, decodeText(raw[i+2:], ""))
		}
	}
	return p, werr
}

func (p *parts) entity(e *message.Entity, depth int, lim Limits) error {
	p.nparts++
	if p.nparts > lim.MaxParts {
		p.truncated = true
		return errTooManyParts
	}
	mt, params, _ := e.Header.ContentType()
	mt = strings.ToLower(mt)
	if mr := e.MultipartReader(); mr != nil {
		if mt == "multipart/report" && p.reportTyp == "" {
			p.reportTyp = strings.ToLower(params["report-type"])
		}
		if depth >= lim.MaxDepth {
			p.truncated = true
			return fmt.Errorf("MIME nesting deeper than %d", lim.MaxDepth)
		}
		var firstErr error
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil && part == nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("multipart: %w", err)
				}
				break
			}
			if err := p.entity(part, depth+1, lim); err != nil {
				if errors.Is(err, errTooManyParts) {
					return err
				}
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		return firstErr
	}
	body, rerr := readBody(e, params["charset"])
	switch {
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		p.status = append(p.status, body)
	case mt == "message/feedback-report":
		p.feedback = body
	case mt == "message/disposition-notification" || mt == "message/global-disposition-notification":
		p.mdn = true
	case mt == "message/rfc822" || mt == "message/global" || mt == "text/rfc822-headers" || mt == "message/rfc822-headers" || mt == "message/partial":
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
		p.htmls = append(p.htmls, body)
	case mt == "" || strings.HasPrefix(mt, "text/"):
		p.texts = append(p.texts, body)
	}
	if rerr != nil {
		return rerr
	}
	return nil
}

// readBody reads a decoded part body and returns it as UTF-8. go-message has
// already converted labelled charsets; labels missing or wrong are repaired
// here.
func readBody(e *message.Entity, label string) (string, error) {
	b, err := io.ReadAll(e.Body)
	s := decodeText(b, label)
	if err != nil {
		return s, fmt.Errorf("body: %w", err)
	}
	return s, nil
}

// decodeText turns bytes of unknown or mislabelled charset into UTF-8.
func decodeText(b []byte, label string) string {
	if bytes.IndexByte(b, 0x1b) >= 0 && (bytes.Contains(b, []byte("\x1b$B")) || bytes.Contains(b, []byte("\x1b$@"))) {
		if s, ok := decodeWith(japanese.ISO2022JP, b); ok {
			return s
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	// Not UTF-8: Shift_JIS (CP932) or EUC-JP without a usable label.
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
