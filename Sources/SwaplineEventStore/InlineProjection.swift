/// A read model kept in step with the events by the append itself: its writes are part of the
/// append's one statement, so the model and the events commit or roll back together and a
/// reader of the model sees an append as soon as it commits.
///
/// One statement, not a transaction of several: an append used to be BEGIN, INSERT, a statement
/// per inline model, COMMIT, and held its transaction id for all those round trips while every
/// reader of the global order waited behind it (the xid8 rule of `readGlobal`).
public protocol InlineProjection: Sendable {
    /// Its writes, as common table expressions of the append's statement (`name AS (…)`, comma
    /// separated, each name prefixed with what it writes) that read the appended events
    /// from the relation `source` (the columns of `events`). Rebuilds run the same text over a
    /// batch of the event table.
    func writes(reading source: String) -> String
}

/// An append statement that also writes a fixed list of inline projections. A type rather than a
/// value because PostgresNIO prepares statements by type, once per connection. Conform an enum:
/// `static let sql = EventStore.appendSQL(projecting: [...])`.
public protocol ProjectingAppend: PreparedSQL {}
