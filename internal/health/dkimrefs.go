package health

import (
	"bytes"
	"strings"
)

// DKIMRefs finds the DKIM-Signature header fields (RFC 6376 3.5) anywhere in
// a raw bounce (the returned original's header is usually inside it) and
// returns the d= and s= of those whose domain aligns with fromDomain
// (relaxed, as DMARC counts them), at most 3. Field folding is undone; other
// tags are ignored.
//
// Written by hand: the DKIM library parses a signature only while verifying
// a whole message, and a returned original is rarely whole.
func DKIMRefs(raw []byte, fromDomain string) []DKIMRef {
	var out []DKIMRef
	lines := bytes.Split(raw, []byte("\n"))
	for i := 0; i < len(lines) && len(out) < 3; i++ {
		line := strings.TrimRight(string(lines[i]), "\r")
		if len(line) < 15 || !strings.EqualFold(line[:15], "DKIM-Signature:") {
			continue
		}
		field := line[15:]
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') && len(field) < 4096 {
			i++
			field += strings.TrimRight(string(lines[i]), "\r")
		}
		var ref DKIMRef
		for _, tag := range strings.Split(field, ";") {
			k, v, ok := strings.Cut(tag, "=")
			if !ok {
				continue
			}
			v = strings.Join(strings.Fields(v), "")
			switch strings.TrimSpace(k) {
			case "d":
				ref.Domain = strings.ToLower(v)
			case "s":
				ref.Selector = strings.ToLower(v)
			}
		}
		if ref.Domain == "" || ref.Selector == "" || !zoneRE.MatchString(ref.Domain) || !zoneRE.MatchString(ref.Selector+".x") {
			continue
		}
		if fromDomain != "" && !alignedWith(fromDomain, ref.Domain, false) {
			continue
		}
		out = append(out, ref)
	}
	return dedupDKIM(out)
}
