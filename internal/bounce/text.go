package bounce

import (
	"encoding/binary"
	"strings"
	"unicode"
)

// Helpers that read addresses, codes and hosts out of free text. They scan
// bytes instead of using regular expressions: the classifier runs them many
// times per message and must stay linear and fast.

func isAddrChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0 || c >= 0x80
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c >= 0x80
}

// addrSpan is an address found in text and where it is.
type addrSpan struct {
	addr       string
	start, end int
}

// findAddrs returns the email addresses in s, in order of appearance.
func findAddrs(s string) []addrSpan {
	var out []addrSpan
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		a := i
		for a > 0 && isAddrChar(s[a-1]) && s[a-1] != '\'' {
			a--
		}
		for a < i && s[a] == '.' {
			a++
		}
		b := i + 1
		for b < len(s) && isDomainChar(s[b]) {
			b++
		}
		for b > i+1 && (s[b-1] == '.' || s[b-1] == '-') {
			b--
		}
		if a == i || b <= i+1 || !strings.Contains(s[i+1:b], ".") {
			continue
		}
		addr := s[a:b]
		out = append(out, addrSpan{addr: addr, start: a, end: b})
		i = b - 1
	}
	return out
}

// firstAddr returns the first address in s, lowercased in the domain part, or "".
func firstAddr(s string) string {
	if as := findAddrs(s); len(as) > 0 {
		return cleanAddr(as[0].addr)
	}
	return ""
}

// cleanAddr trims decorations and lowercases the domain.
func cleanAddr(a string) string {
	a = strings.TrimSpace(a)
	if strings.HasPrefix(a, "<") {
		a = strings.TrimPrefix(strings.TrimSuffix(a, ">"), "<")
	}
	if strings.HasPrefix(a, "\"") && strings.Contains(a, "\"@") {
		// A quoted local part ("a..b"@example.org) keeps its quotes.
		a = strings.TrimRight(a, ">)];,:. \t")
		if i := strings.LastIndexByte(a, '@'); i > 0 {
			a = a[:i+1] + strings.ToLower(a[i+1:])
		}
		return a
	}
	a = strings.Trim(a, "<>\"'()[],;:. \t")
	// Punctuation of other scripts written after an address ("a@b.jp،",
	// "a@b.jp。") is the sentence's, not the domain's.
	a = strings.TrimRightFunc(a, func(r rune) bool { return r > unicode.MaxASCII && (unicode.IsPunct(r) || unicode.IsSpace(r)) })
	a = strings.TrimPrefix(a, "mailto:")
	if i := strings.LastIndexByte(a, '@'); i > 0 {
		a = a[:i+1] + strings.ToLower(a[i+1:])
	}
	return a
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// findStatus returns the first enhanced status code (RFC 3463:
// class.subject.detail) of a failure (class 4 or 5) in s; failing that, the
// first success code (class 2); or "".
func findStatus(s string) string {
	first2 := ""
	for off := 0; off < len(s); {
		st, at := findAnyStatus(s[off:])
		if st == "" {
			break
		}
		if st[0] != '2' {
			return st
		}
		if first2 == "" {
			first2 = st
		}
		off += at + len(st)
	}
	return first2
}

// findAnyStatus returns the first enhanced status code in s and its offset.
func findAnyStatus(s string) (string, int) {
	for i := 0; i+4 < len(s); i++ {
		c := s[i]
		if (c != '2' && c != '4' && c != '5') || s[i+1] != '.' {
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.') {
			continue
		}
		j := i + 2
		n := 0
		for j < len(s) && isDigit(s[j]) && n < 3 {
			j++
			n++
		}
		if n == 0 || j >= len(s) || s[j] != '.' {
			continue
		}
		j++
		m := 0
		for j < len(s) && isDigit(s[j]) && m < 3 {
			j++
			m++
		}
		if m == 0 || (j < len(s) && (isDigit(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]))) {
			continue
		}
		return s[i:j], i
	}
	return "", 0
}

// findReplyCode returns the first SMTP reply code of a failure (4xx/5xx
// followed by a space, hyphen or end) in s; failing that the first success
// code (2xx); or "".
func findReplyCode(s string) string {
	if c := findCode(s, "45"); c != "" {
		return c
	}
	return findCode(s, "2")
}

// findCode returns the first reply code in s whose class (first digit) is
// one of the digits in classes.
func findCode(s, classes string) string {
	for i := 0; i+2 < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || strings.IndexByte(classes, c) < 0 { // most bytes fail the first, cheap test
			continue
		}
		if i > 0 && (isDigit(s[i-1]) || s[i-1] == '.' || s[i-1] == '#' || isAlpha(s[i-1]) || s[i-1] == '-' || s[i-1] == '/') {
			continue
		}
		if i > 1 && s[i-1] == ':' && isDigit(s[i-2]) {
			continue // a time or a port, not a reply code
		}
		if !isDigit(s[i+1]) || !isDigit(s[i+2]) || s[i+1] > '5' {
			continue
		}
		if i+3 < len(s) {
			n := s[i+3]
			if n != ' ' && n != '-' && n != '\t' && n != ',' && n != ')' && n != ']' && n != '"' && n != '\'' {
				continue
			}
			if n == '-' && !(i+4 < len(s) && (isDigit(s[i+4]) || isAlpha(s[i+4]) || s[i+4] == ' ' || s[i+4] == '\'')) {
				continue
			}
			// "550 " followed by a year or size is rare; a following "." as in 5.1.1 was excluded above.
		}
		return s[i : i+3]
	}
	return ""
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// unfoldSMTP joins a multi-line SMTP response into one line, dropping the
// "550-5.7.1 " continuation prefixes that repeat the code.
func unfoldSMTP(s string) string {
	// Dropping a repeated prefix can bring two more together; repeat until
	// nothing changes (bounded: each pass only shortens the text).
	out := unfoldOnce(s)
	for i := 0; i < 4; i++ {
		next := unfoldOnce(out)
		if next == out {
			break
		}
		out = next
	}
	return out
}

func unfoldOnce(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	lines := strings.Split(s, "\n")
	var b strings.Builder
	first := true
	code := "" // the reply code already written, if any
	for _, l := range lines {
		l = collapseSpaces(strings.TrimSpace(l))
		if l == "" {
			continue
		}
		if len(l) > 4 && isDigit(l[0]) && isDigit(l[1]) && isDigit(l[2]) && (l[3] == '-' || l[3] == ' ') {
			if code == l[:3] {
				// Drop a repeated "550-" / "550 " (and "5.7.1 ") continuation prefix.
				rest := strings.TrimSpace(l[4:])
				if st := findStatus(rest); st != "" && strings.HasPrefix(rest, st) {
					rest = strings.TrimSpace(rest[len(st):])
				}
				l = rest
			} else {
				code = l[:3]
				l = l[:3] + " " + strings.TrimSpace(l[4:])
			}
		}
		if !first {
			b.WriteByte(' ')
		}
		b.WriteString(l)
		first = false
	}
	out := b.String()
	// A reply joined into one line by the reporting MTA still repeats its
	// "550-5.7.1 " prefix mid-text: drop the repeats.
	if code != "" && len(out) > 4 {
		if st := findStatus(out); st != "" {
			first := strings.Index(out, code+" "+st)
			if first < 0 {
				first = strings.Index(out, code+"-"+st)
			}
			if first >= 0 {
				head, rest := out[:first+len(code)+1+len(st)], out[first+len(code)+1+len(st):]
				for _, rep := range []string{" " + code + "-" + st + " ", " " + code + " " + st + " "} {
					for strings.Contains(rest, rep) { // repeats may touch: " 550-5.7.26 550-5.7.26 "
						rest = strings.ReplaceAll(rest, rep, " ")
					}
				}
				out = head + rest
			}
		}
	}
	// "550-5.7.1 text" on the first line reads as "550 5.7.1 text".
	if len(out) > 4 && isDigit(out[0]) && isDigit(out[1]) && isDigit(out[2]) && out[3] == '-' {
		out = out[:3] + " " + out[4:]
	}
	return strings.TrimSpace(collapseSpaces(out))
}

func collapseSpaces(s string) string {
	if !strings.Contains(s, "  ") && !strings.ContainsAny(s, "\t") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	sp := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' {
			if !sp {
				b.WriteByte(' ')
			}
			sp = true
			continue
		}
		sp = false
		b.WriteByte(c)
	}
	return b.String()
}

// lowerASCII lowercases ASCII letters only (fast; leaves UTF-8 intact).
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	// Eight bytes at a time: set bit 5 of each byte in 'A'..'Z' (SWAR; every
	// byte is judged on its own, bytes >= 0x80 are left alone).
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		low7 := x &^ highs                 // each byte without its high bit
		geA := low7 + (0x80-'A')*ones      // high bit set where byte >= 'A'
		gtZ := low7 + (0x7f-'Z')*ones      // high bit set where byte > 'Z'
		upper := (geA &^ gtZ) &^ x & highs // ASCII and 'A' <= byte <= 'Z'
		binary.LittleEndian.PutUint64(b[i:], x|upper>>2)
	}
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// hasPrefixFold is strings.HasPrefix(lowerASCII(s), prefix), without the copy.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// containsAny reports whether s contains any of subs.
func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
