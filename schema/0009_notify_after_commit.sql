-- Appends no longer NOTIFY inside their own transaction. PostgreSQL serialises the commits of
-- notifying transactions on one lock held through the commit's WAL flush, so a NOTIFY in every
-- append kept any two appends from sharing a flush (group commit). The application announces
-- its appends after they commit instead (CommitAnnouncer: one pg_notify for all the commits
-- meanwhile); a writer that does not, such as psql, is found by the runners' once-a-second poll.
DROP TRIGGER events_notify ON events;
DROP FUNCTION events_notify();
