package bounce

import (
	"testing"
	"golang.org/x/text/encoding/japanese"
)

func TestZZProbe(t *testing.T) {
	for _, s := range []string{
		"Reporting-MTA: dns; mx.example.jp\nFinal-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\nFinal-Recipient: rfc822; b@example.com\nAction: delayed\nStatus: 4.2.2\n",
		"Reporting-MTA: dns; mx.example.jp\r\n\r\nFinal-Recipient: rfc822; a@example.com\r\nAction: failed\r\nDiagnostic-Code: smtp; 550-5.1.1 no\r\n such user\r\n",
		"Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.1.1\n\nFinal-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.2.2\n",
	} {
		m, r := parseDSN(s)
		t.Logf("%q -> %v %v", s, m, r)
	}
	for _, s := range []string{"宛先のメールアドレスが見つかりません", "ユーザ不明", "配信エラー"} {
		for _, enc := range []struct{n string; e interface{ NewEncoder() interface{} }}{} { _ = enc }
		j, _ := japanese.ISO2022JP.NewEncoder().Bytes([]byte(s))
		sj, _ := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
		eu, _ := japanese.EUCJP.NewEncoder().Bytes([]byte(s))
		t.Logf("%q %q %q", decodeText(j, ""), decodeText(sj, ""), decodeText(eu, ""))
		t.Logf("%q %q %q", decodeText(j, "us-ascii"), decodeText(sj, "iso-8859-1"), decodeText(eu, "utf-8"))
	}
	t.Logf("%q", decodeText([]byte{0xff, 0xfe, 'a', 0x81, 0x1b, '$', 'B', 0x80}, ""))
}
