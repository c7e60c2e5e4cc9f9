package bounce

import "strings"

// Masking: before any phrase of the rule table is matched, the data in a
// receiver's text — mailbox addresses, message IDs, host names, IP
// addresses and URLs — is replaced by placeholder tokens. An address such
// as "spam.user@example.jp" or a host such as "rbl-check.example.net" says
// nothing about why the mail failed; only the receiver's words do. The
// tokens are lowercase words no receiver writes, so the rule table can
// still name where data stood ("_host_ does not exist").
const (
	maskAddr = "_addr_" // local@domain, also a message ID
	maskHost = "_host_" // a host or domain name with a known top-level domain
	maskIP   = "_ip_"   // an IPv4 or IPv6 address
	maskURL  = "_url_"  // http(s)://..., www....
	// A URL that looks an IP address up (?ip=, /ip/): the form of every
	// DNS blocklist's link in a rejection (KB.md §8.1).
	maskIPLookup = "_iplookup_"
)

// maskData returns s with addresses, message IDs, host names, IP addresses
// and URLs replaced by the placeholder tokens. Everything else, case
// included, is kept. It reads s once and allocates only when it masks.
//
// It is written here rather than with regexp: it runs on every recipient's
// text and on the whole text of each report, and a token scan is several
// times cheaper than the equivalent alternation of regular expressions.
func maskData(s string) string { return mask(s, false) }

// maskLower is lowerASCII(maskData(s)) in one pass and at most one
// allocation: the form the rule table matches.
func maskLower(s string) string { return mask(s, true) }

func mask(s string, lower bool) string {
	var b strings.Builder
	inUse := false
	done := 0 // s[:done] is written to b (when b is in use)
	write := func(t string) {
		if !lower {
			b.WriteString(t)
			return
		}
		for k := 0; k < len(t); k++ {
			c := t[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
		}
	}
	i := 0
	for i < len(s) {
		if maskDelim(s[i]) {
			i++
			continue
		}
		j := i
		data := false // only a token with '@', '.' or ':' can be data
		for j < len(s) && !maskDelim(s[j]) {
			if c := s[j]; c == '@' || c == '.' || c == ':' {
				data = true
			}
			j++
		}
		// Sentence punctuation after a word is not part of it.
		end := j
		for data && end > i && (s[end-1] == '.' || s[end-1] == ':' || s[end-1] == '!' || s[end-1] == '?') {
			end--
		}
		if data && end > i {
			if repl := maskToken(s[i:end]); repl != "" {
				if !inUse {
					b.Grow(len(s))
					inUse = true
				}
				write(s[done:i])
				b.WriteString(repl)
				done = end
			}
		}
		i = j
	}
	if !inUse {
		if lower {
			return lowerASCII(s)
		}
		return s
	}
	write(s[done:])
	return b.String()
}

// maskDelim reports the bytes that end a token: white space, brackets,
// quotes and list punctuation. ':' and '.' stay inside (IPv6, URLs, hosts).
func maskDelim(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '<', '>', '(', ')', '[', ']', '{', '}', '"', '\'', ',', ';', '`', '|', '\\':
		return true
	}
	return false
}

// maskToken returns the placeholder for one token, or "" to keep it.
func maskToken(t string) string {
	// Only a token with '@', '.' or ':' can be data; most words have none.
	if strings.IndexByte(t, '@') < 0 && strings.IndexByte(t, '.') < 0 && strings.IndexByte(t, ':') < 0 {
		return ""
	}
	switch {
	case strings.Contains(t, "://") || hasPrefixFold(t, "www."):
		lt := lowerASCII(t)
		if strings.Contains(lt, "ip=") || strings.Contains(lt, "/ip/") || strings.Contains(lt, "ipr=") {
			return maskIPLookup
		}
		return maskURL
	case hasPrefixFold(t, "mailto:"):
		return maskAddr
	}
	if at := strings.LastIndexByte(t, '@'); at >= 0 {
		// local@domain (or "@domain" of a source route): a dot-free right
		// side is a message ID's or an MTA's private name; both are data.
		if at+1 < len(t) && isDomainChar(t[at+1]) {
			return maskAddr
		}
		return ""
	}
	if isIPv4(trimPrefixFold(t, "ipv4:")) || isIPv6(trimPrefixFold(t, "ipv6:")) {
		return maskIP
	}
	if isHostName(t) {
		return maskHost
	}
	return ""
}

// trimPrefixFold is strings.TrimPrefix with ASCII case folding of s.
func trimPrefixFold(s, prefix string) string {
	if hasPrefixFold(s, prefix) {
		return s[len(prefix):]
	}
	return s
}

// isIPv4 reports four dot-separated decimal numbers of at most three digits.
func isIPv4(s string) bool {
	parts := 0
	n := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 0 || n > 3 {
				return false
			}
			parts++
			n = 0
			continue
		}
		if !isDigit(s[i]) {
			return false
		}
		n++
	}
	return parts == 4
}

// isIPv6 reports colon-separated hex groups with "::" or at least six
// groups (so times such as 10:22:33 are not taken for addresses).
func isIPv6(s string) bool {
	if len(s) < 3 || strings.Count(s, ":") < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // ASCII letters to lower case; digits, ':' and '.' keep their bit
		if !(isDigit(s[i]) || c >= 'a' && c <= 'f' || s[i] == ':' || s[i] == '.') {
			return false
		}
	}
	return strings.Contains(s, "::") || strings.Count(s, ":") >= 5
}

// isHostName reports (in any case) a dotted name of at least two labels whose last label
// is a top-level domain: two letters (a country code) or one of the
// generic domains common in mail. The condition keeps SMTP codes (5.7.1),
// file names and Exchange's dotted error names (RESOLVER.ADR.RecipNotFound)
// out of the mask.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	if strings.Contains(s, "..") {
		return false
	}
	tld := lowerASCII(s[dot+1:])
	if len(tld) == 2 && tld[0] >= 'a' && tld[1] >= 'a' {
		return true
	}
	switch tld {
	case "com", "net", "org", "edu", "gov", "mil", "int", "arpa", "info", "biz", "name", "pro", "mobi",
		"asia", "tokyo", "osaka", "nagoya", "yokohama", "online", "site", "email", "cloud", "xyz", "app", "dev", "local", "test",
		"example", "invalid", "localhost", "localdomain":
		return true
	}
	return false
}
