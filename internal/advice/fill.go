package advice

import (
	"errors"
	"fmt"
	"strings"
)

// Placeholders in texts.yaml:
//
//	{name}        the value; when empty, the language's default for name
//	              (languages.<lang>.placeholders), e.g. 送信サーバーのIPアドレス
//	{name|other}  the value; when empty, the literal text "other"
//	[[ ... ]]     an optional part: left out entirely when any placeholder
//	              inside it is empty, e.g. 送信サーバーのIPアドレス[[({ip})]]

// contentPlaceholders may appear in reason and fallback texts.
var contentPlaceholders = map[string]bool{
	"ip":            true, // our sending IP as the receiver saw it
	"provider_name": true, // display name of the recipient's provider
	"remote_mta":    true, // the receiver's server
	"reporting_mta": true, // the server that wrote the bounce
	"status":        true, // enhanced status code, e.g. 4.7.650
	"reply_code":    true, // SMTP reply code, e.g. 451
	"code":          true, // reply code and status together, e.g. 451 4.7.650
	"recipient":     true, // the recipient's address
	"domain":        true, // the recipient's domain
	"sender_domain": true, // the domain of the original From address
	"hosting":       true, // the office's hosting company (WithHosting), else the generic word
}

// layoutPlaceholders may appear in languages.<lang>.layout.
var layoutPlaceholders = map[string]bool{
	"state": true, "headline": true, "recipient": true, "provider_name": true,
	"count": true, "period": true, "first": true, "last": true, "n": true,
	"domain": true, "hosting": true, "title": true, "url": true, "label": true, "value": true, "actor": true, "text": true, "i": true,
}

// fill expands the placeholders of s.
func fill(s string, vals, defaults map[string]string) string {
	if strings.IndexByte(s, '{') < 0 && !strings.Contains(s, "[[") {
		return s // nothing to fill: most action texts
	}
	var b strings.Builder
	b.Grow(len(s) + 48) // room for a value or two, so the text is written once
	for {
		i := strings.Index(s, "[[")
		if i < 0 {
			expand(&b, s, vals, defaults)
			return b.String()
		}
		expand(&b, s[:i], vals, defaults)
		rest := s[i+2:]
		j := strings.Index(rest, "]]")
		if j < 0 { // malformed; the tests reject this in texts.yaml
			expand(&b, rest, vals, defaults)
			return b.String()
		}
		seg := rest[:j]
		if allSet(seg, vals) {
			expand(&b, seg, vals, defaults)
		}
		s = rest[j+2:]
	}
}

// expand writes s with its {placeholders} replaced.
func expand(b *strings.Builder, s string, vals, defaults map[string]string) {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		name, alt, hasAlt := strings.Cut(s[i+1:i+j], "|")
		switch v := vals[name]; {
		case v != "":
			b.WriteString(v)
		case hasAlt:
			b.WriteString(alt)
		default:
			b.WriteString(defaults[name])
		}
		s = s[i+j+1:]
	}
}

// allSet reports whether every placeholder in s has a non-empty value.
func allSet(s string, vals map[string]string) bool {
	for _, p := range placeholdersIn(s) {
		if vals[p] == "" {
			return false
		}
	}
	return true
}

// placeholdersIn lists the placeholder names in s, in order.
func placeholdersIn(s string) []string {
	var names []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return names
		}
		name, _, _ := strings.Cut(s[i+1:i+j], "|")
		names = append(names, name)
		s = s[i+j+1:]
	}
}

// checkTemplate reports malformed syntax and placeholders not in known.
func checkTemplate(s string, known map[string]bool) error {
	var errs []error
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "[["):
			if depth != 0 {
				errs = append(errs, errors.New("nested [["))
			}
			depth++
			i++
		case strings.HasPrefix(s[i:], "]]"):
			if depth != 1 {
				errs = append(errs, errors.New("]] without [["))
			}
			depth--
			i++
		}
	}
	if depth != 0 {
		errs = append(errs, errors.New("[[ without ]]"))
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		errs = append(errs, errors.New("unbalanced { }"))
	}
	for _, p := range placeholdersIn(s) {
		if !known[p] {
			errs = append(errs, fmt.Errorf("unknown placeholder {%s}", p))
		}
	}
	return errors.Join(errs...)
}
