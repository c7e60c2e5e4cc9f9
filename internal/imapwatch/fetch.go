package imapwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// sessionState is one selected-mailbox session.
type sessionState struct {
	w           *Watcher
	c           *imapclient.Client
	wc          *watchConn
	caps        imap.CapSet
	uidValidity uint32
	lastUID     uint32
}

var (
	headerSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}
)

// catchUp delivers every message with a UID above the cursor, in bounded
// batches, and applies the disposition after each successful delivery.
func (s *sessionState) catchUp(ctx context.Context) error {
	for {
		uids, err := s.newUIDs()
		if err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		for len(uids) > 0 {
			n := min(len(uids), s.w.cfg.FetchBatch)
			if err := s.processHeaders(ctx, uids[:n]); err != nil {
				return err
			}
			uids = uids[n:]
		}
	}
}

// newUIDs lists UIDs above the cursor. "UID n:*" always matches the last
// message even when its UID is below n, so the result is filtered.
func (s *sessionState) newUIDs() ([]imap.UID, error) {
	var set imap.UIDSet
	set.AddRange(imap.UID(s.lastUID+1), 0) // 0 is "*"
	data, err := s.c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imapwatch: search new messages: %w", err)
	}
	var out []imap.UID
	for _, uid := range data.AllUIDs() {
		if uint32(uid) > s.lastUID {
			out = append(out, uid)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// processHeaders fetches headers and sizes for uids (ascending), asks the
// sink which ones it wants whole, and delivers them in bounded batches.
func (s *sessionState) processHeaders(ctx context.Context, uids []imap.UID) error {
	set := imap.UIDSetNum(uids...)
	bufs, err := s.c.Fetch(set, &imap.FetchOptions{
		UID:         true,
		RFC822Size:  true,
		BodySection: []*imap.FetchItemBodySection{headerSection},
	}).Collect()
	if err != nil {
		return fmt.Errorf("imapwatch: fetch headers: %w", err)
	}
	byUID := make(map[imap.UID]*imapclient.FetchMessageBuffer, len(bufs))
	for _, b := range bufs {
		if b.UID != 0 {
			byUID[b.UID] = b
		}
	}

	cfg := &s.w.cfg
	var (
		batch     []Message
		candidate []bool
		bytes     int64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.deliver(ctx, batch, candidate)
		batch, candidate, bytes = nil, nil, 0
		return err
	}
	for _, uid := range uids {
		b, ok := byUID[uid]
		if !ok {
			// Expunged between SEARCH and FETCH: nothing to deliver.
			continue
		}
		hdr := b.FindBodySection(headerSection)
		s.w.bytesFetched.Add(int64(len(hdr)))
		m := Message{UID: uint32(uid), Size: b.RFC822Size, Header: hdr}
		want := s.w.sink.Candidate(hdr, b.RFC822Size)
		cost := int64(len(hdr))
		if want {
			cost += min(b.RFC822Size, cfg.MaxFetchSize)
		}
		if len(batch) > 0 && (len(batch) >= cfg.DeliverBatch || bytes+cost > cfg.DeliverBytes) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, m)
		candidate = append(candidate, want)
		bytes += cost
	}
	return flush()
}

// deliver fetches the bodies of candidates, hands the batch to the sink and
// applies the disposition.
func (s *sessionState) deliver(ctx context.Context, msgs []Message, candidate []bool) error {
	if err := s.fetchBodies(msgs, candidate); err != nil {
		return err
	}
	b := Batch{
		Mailbox:     s.w.cfg.Mailbox,
		UIDValidity: s.uidValidity,
		LastUID:     msgs[len(msgs)-1].UID,
		Messages:    msgs,
	}
	dispose, err := s.w.sink.Deliver(ctx, b)
	if err != nil {
		return fmt.Errorf("imapwatch: deliver UIDs %d-%d: %w", msgs[0].UID, b.LastUID, err)
	}
	s.lastUID = b.LastUID
	s.w.messagesDelivered.Add(uint64(len(msgs)))
	return s.dispose(ctx, msgs, dispose)
}

// fetchBodies fetches the full raw message of candidates, each capped at
// MaxFetchSize with a partial fetch (BODY.PEEK[]<0.cap>).
func (s *sessionState) fetchBodies(msgs []Message, candidate []bool) error {
	var set imap.UIDSet
	idx := make(map[imap.UID]int)
	for i := range msgs {
		if candidate[i] {
			set.AddNum(imap.UID(msgs[i].UID))
			idx[imap.UID(msgs[i].UID)] = i
		}
	}
	if len(idx) == 0 {
		return nil
	}
	limit := s.w.cfg.MaxFetchSize
	section := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: limit}}
	cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	bufs, err := cmd.Collect()
	if err != nil {
		return fmt.Errorf("imapwatch: fetch bodies: %w", err)
	}
	for _, b := range bufs {
		i, ok := idx[b.UID]
		if !ok {
			continue
		}
		body := b.FindBodySection(section)
		if body == nil {
			continue // expunged meanwhile; delivered without a body
		}
		s.w.bytesFetched.Add(int64(len(body)))
		msgs[i].Body = body
		msgs[i].Truncated = msgs[i].Size > limit || int64(len(body)) >= limit && msgs[i].Size > int64(len(body))
	}
	return nil
}

// dispose applies the disposition to the UIDs the sink returned, restricted
// to the batch just delivered.
func (s *sessionState) dispose(ctx context.Context, msgs []Message, uids []uint32) error {
	inBatch := make(map[uint32]bool, len(msgs))
	for _, m := range msgs {
		inBatch[m.UID] = true
	}
	mine := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if inBatch[u] {
			mine = append(mine, u)
		}
	}
	return s.applyDisposition(ctx, mine)
}

// disposePending applies the dispositions the sink recorded but that were
// never done (the process was killed, or the connection lost, after Deliver),
// when the sink keeps them (DisposalSink).
func (s *sessionState) disposePending(ctx context.Context) error {
	ds, ok := s.w.sink.(DisposalSink)
	if !ok {
		return nil
	}
	uids, err := ds.PendingDisposal(ctx, s.w.cfg.Mailbox, s.uidValidity)
	if err != nil {
		return fmt.Errorf("imapwatch: read pending dispositions: %w", err)
	}
	if len(uids) == 0 {
		return nil
	}
	s.w.log.Info("imapwatch: applying dispositions left over from the last session", slog.Int(logKeyCount, len(uids)))
	return s.applyDisposition(ctx, uids)
}

// applyDisposition flags or moves uids and then tells a DisposalSink they
// are done. A refusal by the server is logged and not tried again (the
// messages stay where they are); a broken connection returns an error and
// leaves them pending for the next session.
func (s *sessionState) applyDisposition(ctx context.Context, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	d := s.w.cfg.Disposition
	var err error
	if d.Kind != DispositionNone {
		var set imap.UIDSet
		for _, u := range uids {
			set.AddNum(imap.UID(u))
		}
		switch {
		case d.Kind == DispositionFlag:
			err = s.flag(set, d.Keyword)
		case s.caps.Has(imap.CapMove) || s.caps.Has(imap.CapIMAP4rev2):
			_, err = s.c.Move(set, d.Folder).Wait()
			if err != nil {
				err = fmt.Errorf("imapwatch: move to %q: %w", d.Folder, err)
			}
		default:
			// No MOVE: copy and mark the original; never delete it.
			if _, err = s.c.Copy(set, d.Folder).Wait(); err != nil {
				err = fmt.Errorf("imapwatch: copy to %q: %w", d.Folder, err)
			} else {
				err = s.flag(set, d.Keyword)
			}
		}
	}
	if err != nil {
		var ierr *imap.Error
		if !errors.As(err, &ierr) {
			return err // the connection is broken: the UIDs stay pending
		}
		// The server refused: keep going, the cursor already advanced.
		s.w.log.Warn("imapwatch: disposition failed", slog.String(logKeyErr, err.Error()), slog.Int(logKeyCount, len(uids)))
	}
	if ds, ok := s.w.sink.(DisposalSink); ok {
		if err := ds.Disposed(ctx, s.w.cfg.Mailbox, s.uidValidity, uids); err != nil {
			return fmt.Errorf("imapwatch: clear pending dispositions: %w", err)
		}
	}
	return nil
}

func (s *sessionState) flag(set imap.UIDSet, keyword string) error {
	err := s.c.Store(set, &imap.StoreFlags{
		Op:     imap.StoreFlagsAdd,
		Silent: true,
		Flags:  []imap.Flag{imap.Flag(keyword)},
	}, nil).Close()
	if err != nil {
		return fmt.Errorf("imapwatch: store %s: %w", keyword, err)
	}
	return nil
}

// ensureFolder creates the move destination when it is missing.
func (s *sessionState) ensureFolder() error {
	folder := s.w.cfg.Disposition.Folder
	list, err := s.c.List("", folder, nil).Collect()
	if err != nil {
		return fmt.Errorf("imapwatch: list %q: %w", folder, err)
	}
	for _, l := range list {
		if l.Mailbox == folder {
			return nil
		}
	}
	if err := s.c.Create(folder, nil).Wait(); err != nil {
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Code == imap.ResponseCodeAlreadyExists {
			return nil
		}
		return fmt.Errorf("imapwatch: create %q: %w", folder, err)
	}
	s.w.log.Info("imapwatch: created folder for triaged messages", slog.String("folder", folder))
	return nil
}
