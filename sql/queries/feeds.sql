-- Feed pollers: one instance at a time polls each feed, by a session-level
-- advisory lock on a dedicated connection. When that connection ends (a crash,
-- a restart, a network cut) PostgreSQL frees the lock and another instance
-- takes the feed over at its next try.

-- name: try_lock
SELECT pg_try_advisory_lock(:key::bigint);

-- name: holding
-- Still ours? (pg_locks splits a bigint key into classid = high and objid = low 32 bits.)
SELECT EXISTS (
    SELECT 1
    FROM pg_locks
    WHERE locktype = 'advisory'
      AND pid = pg_backend_pid()
      AND granted
      AND objsubid = 1
      AND (classid::bigint << 32 | objid::bigint) = :key::bigint
);

-- name: unlock
SELECT pg_advisory_unlock(:key::bigint);
