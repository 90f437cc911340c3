import Logging
import PostgresNIO

/// Which rows of `events` a set-based projection statement reads. Read models are written by SQL
/// over the event table itself, so a live append and a rebuild of a million events run the same
/// statement and the events never travel to the client and back.
public enum EventSelection: Sendable {
    /// These events: an append's own, or a runner's batch.
    case positions([Int64])
    /// Every event after `after`, up to and including `through`, in the global order: a rebuild's
    /// batch. Only safe below the visibility horizon (no transaction in it still running).
    case range(after: GlobalCursor, through: GlobalCursor)
}

extension PostgresQuery.StringInterpolation {
    /// A predicate over the `events` table (unaliased) choosing the selection's rows.
    public mutating func appendInterpolation(eventsIn selection: EventSelection) {
        switch selection {
        case .positions(let positions):
            appendLiteral("events.global_position = ANY(")
            appendInterpolation(positions)
            appendLiteral("::bigint[])")
        case .range(let after, let through):
            appendLiteral("(events.transaction_id, events.global_position) > (")
            appendInterpolation(String(after.transactionId))
            appendLiteral("::xid8, ")
            appendInterpolation(after.position)
            appendLiteral(") AND (events.transaction_id, events.global_position) <= (")
            appendInterpolation(String(through.transactionId))
            appendLiteral("::xid8, ")
            appendInterpolation(through.position)
            appendLiteral(")")
        }
    }

    /// The event's payload when its schema version is one this build reads, and an error naming
    /// the event otherwise: a projection never skips an event it does not understand.
    public mutating func appendInterpolation(payloadOfVersion version: Int) {
        appendLiteral(EventSelection.payload(ofVersion: version))
    }
}

extension EventSelection {
    /// `events.data` if the event's schema version is `version`, else an error naming the event
    /// (SQL over a relation aliased `events`).
    public static func payload(ofVersion version: Int) -> String {
        """
        CASE WHEN events.schema_version = \(version) THEN events.data \
        ELSE swapline_unreadable_event(events.stream_id, events.stream_version, events.event_type, events.schema_version) END
        """
    }
}

extension PostgresConnection {
    /// Runs set-based `writes` (an `InlineProjection`'s, see `writes(reading:)`) over the
    /// selection's rows of the event table, and waits for them to finish.
    public func run(_ writes: (_ source: String) -> String, over selection: EventSelection, logger: Logger) async throws {
        let rows = try await query(
            "WITH selected AS (SELECT * FROM events WHERE \(eventsIn: selection)),\n\(unescaped: writes("selected"))\nSELECT", logger: logger)
        // The writes end after the statement's row; their errors arrive with the rows.
        for try await _ in rows {}
    }
}
