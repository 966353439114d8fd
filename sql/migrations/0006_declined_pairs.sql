-- Candidate selection skips pairings a nation declined; find them by index, not scan.
CREATE INDEX matches_declined ON matches (need_id, offer_item_id) WHERE status = 'declined';
