package dovecottest

import "testing"

func TestStartAppendKick(t *testing.T) {
	s := Start(t, nil)
	uid := s.Append(t, "INBOX", []byte("From: a@example.com\r\nSubject: x\r\n\r\nhi\r\n"))
	if uid != 1 {
		t.Errorf("first UID %d", uid)
	}
	s.Fill(t, "INBOX", [][]byte{[]byte("Subject: y\r\n\r\nb\r\n"), []byte("Subject: z\r\n\r\nc\r\n")})
	if n := s.Count(t, "INBOX"); n != 3 {
		t.Errorf("count %d, want 3", n)
	}
	s.Kick(t)
	s.SetUIDValidity(t, "INBOX", 12345)
}
