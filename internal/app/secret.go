package app

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// secret returns the key that signs the tokens in summary Message-IDs:
// BOUNCEWATCH_SECRET, or a random key created once and kept in a file
// beside the database (mode 0600), so tokens survive restarts.
func (a *App) secret() ([]byte, error) {
	if a.cfg.Secret != "" {
		return []byte(a.cfg.Secret), nil
	}
	path := a.cfg.DB + ".key"
	b, err := os.ReadFile(path)
	if err == nil {
		k, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(k) < 16 {
			return nil, fmt.Errorf("%s: not a key written by bouncewatch", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keeping the signing key: %w", err)
	}
	return k, nil
}
