package store

import (
	"context"
	"fmt"
	"time"
)

// RecentSendingIPs returns the distinct sending IPs of the bounces and delay
// notices seen since a time, the most frequent first, at most limit.
func (d *DB) RecentSendingIPs(ctx context.Context, since time.Time, limit int) ([]string, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT sending_ip FROM reports
		WHERE sending_ip != '' AND seen_at >= ? AND kind IN ('bounce', 'delay')
		GROUP BY sending_ip ORDER BY COUNT(*) DESC, MAX(seen_at) DESC LIMIT ?`, ms(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent sending IPs: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, fmt.Errorf("store: recent sending IPs: %w", err)
		}
		out = append(out, ip)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recent sending IPs: %w", err)
	}
	return out, nil
}
