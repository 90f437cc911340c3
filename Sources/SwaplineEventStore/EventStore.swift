import Foundation
import Logging
import PostgresNIO

/// The append-only PostgreSQL event store (table `events`, see schema/0001_event_store.sql).
///
/// Hash chain, version check and head bookkeeping happen in the database's insert trigger, so
/// every writer, including a superuser with psql, produces the same verifiable chain.
public struct EventStore: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// The append's statement: the events' INSERT, and the writes of the inline read models
    /// if it is a `ProjectingAppend`.
    public let appendStatement: any PreparedSQL.Type
    /// Wakes the projection runners after an append commits.
    public let announcer: CommitAnnouncer

    /// The NOTIFY channel signalled after every append's commit (`announceAppended`).
    public static let notificationChannel = "swapline_events"

    /// Concurrent `append(_:)` calls, committed together (group commit).
    /// Nil when the store appends each call in its own transaction (`groupCommit: false`).
    let appender: RoundTripBatcher<[StreamAppend], Result<[AppendedEvent], any Error>>?

    /// `projecting`: the inline read models every append also writes, as the statement that
    /// does both (nil: the events alone).
    /// `groupCommit`: commit concurrent `append(_:)` calls together (see `append`). Off by
    /// default, as a plain store; the server's exchange creates turn it on (`ExchangeService`).
    public init(client: PostgresClient, logger: Logger, projecting: (any ProjectingAppend.Type)? = nil, groupCommit: Bool = false) {
        self.client = client
        self.logger = logger
        let statement: any PreparedSQL.Type = projecting ?? AppendEvents.self
        self.appendStatement = statement
        self.announcer = CommitAnnouncer(client: client, logger: logger)
        self.appender =
            groupCommit
            ? RoundTripBatcher { [client, logger] batch in
                await Self.appendTogether(batch, client: client, statement: statement, logger: logger)
            } : nil
    }

    /// Appends to several streams atomically, each with its own expected version.
    ///
    /// With `groupCommit`, calls made while others are committing are committed together: one
    /// transaction, one INSERT and one WAL flush for all of them (see `appendTogether`). Each
    /// call is still all or nothing, and fails only for its own reasons.
    @discardableResult
    public func append(_ appends: [StreamAppend]) async throws -> [AppendedEvent] {
        let appended =
            if let appender {
                try await appender.submit(appends).get()
            } else {
                try await Self.appendTogether([appends], client: client, statement: appendStatement, logger: logger)[0].get()
            }
        announceAppended()
        return appended
    }

    /// Commits a batch of concurrent `append(_:)` calls, each call's result in its place.
    ///
    /// The calls whose streams no earlier call of the batch touches go in one transaction. If
    /// the server refuses it, nothing of it is stored: a version conflict fails the call whose
    /// stream it names and the others try together again; any other refusal (a deadlock, an
    /// inline read model's check) has each call tried again alone. Only the call at fault fails.
    /// An outcome that is unknown (the connection lost during the commit) is not tried again: a
    /// retry could append twice. Calls that share a stream with an earlier one are appended
    /// alone after the rest, in order.
    ///
    /// An append is one statement, atomic on its own, inline read models included: no BEGIN and
    /// COMMIT round trips.
    static func appendTogether(
        _ batch: [[StreamAppend]], client: PostgresClient, statement: any PreparedSQL.Type, logger: Logger
    ) async -> [Result<[AppendedEvent], any Error>] {
        /// Stores one statement's appends; a `NothingStored` error means it is known to have
        /// rolled back, any other that the outcome is unknown.
        func store(_ appends: [StreamAppend]) async throws -> [AppendedEvent] {
            do {
                return try await client.withConnection { connection in
                    try await insert(appends, statement: statement, on: connection, logger: logger).map(AppendedEvent.init)
                }
            } catch let error as EventStoreError {
                throw NothingStored(error: error)
            } catch let error as PSQLError where error.code == .server {
                throw NothingStored(error: translate(error))
            }
        }
        var results = [Result<[AppendedEvent], any Error>?](repeating: nil, count: batch.count)
        var together: [Int] = []
        var alone: [Int] = []
        var streams = Set<String>()
        for (index, appends) in batch.enumerated() {
            let own = Set(appends.map(\.streamId))
            if own.count == appends.count && own.isDisjoint(with: streams) {
                together.append(index)
                streams.formUnion(own)
            } else {
                alone.append(index)
            }
        }
        // A version conflict names its stream, so its call is known to fail alone too: it gets
        // the conflict and the rest try together again. (Retrying every call alone after any
        // conflict made a busy server's creates, whose guessed account versions often lose to
        // the execution worker's settlements, wait for each other's transactions in turn:
        // p99 ~1 s under `swapline serve`.)
        while together.count > 1 {
            do {
                var appended = try await store(together.flatMap { batch[$0] })[...]
                for index in together {
                    let count = batch[index].reduce(0) { $0 + $1.events.count }
                    results[index] = .success(Array(appended.prefix(count)))
                    appended = appended.dropFirst(count)
                }
                together = []
            } catch let refusal as NothingStored {
                guard case .wrongExpectedVersion(let stream, _) = refusal.error as? EventStoreError,
                    let culprit = together.firstIndex(where: { batch[$0].contains { $0.streamId == stream } })
                else { break }  // Each call is tried alone below.
                results[together[culprit]] = .failure(refusal.error)
                together.remove(at: culprit)
            } catch {
                for index in together { results[index] = .failure(error) }
                together = []
            }
        }
        for index in (together + alone).sorted() {
            do {
                results[index] = .success(try await store(batch[index]))
            } catch {
                results[index] = .failure((error as? NothingStored)?.error ?? error)
            }
        }
        return results.map { $0 ?? .failure(BatchResultMismatch(items: batch.count, outputs: 0)) }
    }

    /// An append the server refused: it rolled back, nothing of it is stored.
    struct NothingStored: Error {
        var error: any Error
    }

    /// Wakes the runners following the global order, in every process; call it after
    /// committing a transaction that appended with `append(_:on:)`.
    public func announceAppended() {
        announcer.announce(Self.notificationChannel)
    }

    /// Appends inside a transaction the caller already holds, so other writes (a quote marked
    /// used, an idempotency key) commit or roll back together with the events and the inline
    /// read models. The caller announces the append after its commit (`announceAppended`).
    public func append(_ appends: [StreamAppend], on connection: PostgresConnection) async throws -> [AppendedEvent] {
        try await Self.insert(appends, statement: appendStatement, on: connection, logger: logger).map(AppendedEvent.init)
    }

    /// Inserts the events with `statement` (`AppendEvents` or a `ProjectingAppend`, which also
    /// writes the inline read models) and returns them as stored: every append, grouped or in
    /// the caller's transaction, goes through here.
    static func insert(
        _ appends: [StreamAppend], statement: any PreparedSQL.Type, on connection: PostgresConnection, logger: Logger
    ) async throws -> [RecordedEvent] {
        var streamIds: [String] = []
        var versions: [Int64] = []
        var eventIds: [UUID] = []
        var types: [String] = []
        var schemaVersions: [Int32] = []
        var datas: [String] = []
        var metadatas: [String] = []
        for append in appends {
            var next: Int64? =
                switch append.expectedVersion {
                case .any: nil
                case .noStream: 1
                case .exact(let version): version + 1
                }
            for event in append.events {
                streamIds.append(append.streamId)
                // 0 asks the trigger to take the stream's next version (ExpectedVersion.any).
                versions.append(next ?? 0)
                next = next.map { $0 + 1 }
                eventIds.append(event.eventId)
                types.append(event.eventType)
                schemaVersions.append(Int32(event.schemaVersion))
                datas.append(event.data)
                metadatas.append(event.metadata)
            }
        }
        guard !streamIds.isEmpty else { return [] }
        do {
            let bindings = try PostgresBindings(streamIds, versions, eventIds, types, schemaVersions, datas, metadatas)
            return try await decode(try await connection.execute(statement, bindings, logger: logger))
        } catch let error as PSQLError {
            if let conflict = conflict(error, appends: appends) { throw conflict }
            throw error
        }
    }

    /// Events per statement when a stream is read: a statement runs until its last row is
    /// consumed, and one statement for a whole long stream ran past the runtime role's 15 s
    /// statement timeout (an account with 1,000,000 events, loaded cold on a slow hour).
    public static let streamPageSize = 10_000

    /// Reads one stream in version order, from `version` on, a page per statement.
    public func readStream(_ streamId: String, from version: Int64 = 1) async throws -> [RecordedEvent] {
        var events: [RecordedEvent] = []
        try await readStream(streamId, from: version) { events.append(contentsOf: $0) }
        return events
    }

    /// Reads one stream in version order, from `version` on, handing each page (at most
    /// `pageSize` events, one statement each) to `page` as it arrives: a long stream is never
    /// one long statement, nor all in memory at once.
    public func readStream(
        _ streamId: String, from version: Int64 = 1, pageSize: Int = EventStore.streamPageSize, _ page: ([RecordedEvent]) throws -> Void
    ) async throws {
        var next = version
        while true {
            let rows = try await client.execute(Prepared(ReadStream.self, try PostgresBindings(streamId, next, pageSize)), logger: logger)
            let events = try await Self.decode(rows)
            if !events.isEmpty { try page(events) }
            guard events.count == pageSize, let last = events.last else { return }
            next = last.streamVersion + 1
        }
    }

    /// The events' insert alone.
    enum AppendEvents: PreparedSQL {
        static let sql = EventStore.appendSQL(projecting: [])
    }

    /// The append's statement: the events' INSERT, its rows in the order given, and with inline
    /// projections their writes as common table expressions reading the inserted rows (as
    /// `appended`). The statement returns `columns` for each event, in order.
    public static func appendSQL(projecting projections: [any InlineProjection]) -> String {
        let insert = """
            INSERT INTO events (stream_id, stream_version, event_id, event_type, schema_version, data, metadata, prev_hash, hash)
            SELECT s, NULLIF(v, 0), e, t, sv, d::jsonb, m::jsonb, '\\x', '\\x'
            FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[])
                 WITH ORDINALITY AS input(s, v, e, t, sv, d, m, n)
            ORDER BY n
            """
        guard !projections.isEmpty else { return insert + "\nRETURNING \(columns)" }
        // A data-modifying WITH runs to completion whether read or not; its rows come out of
        // the CTE in the order they were inserted.
        return """
            WITH appended AS (
            \(insert)
            RETURNING *
            ),
            \(projections.map { $0.writes(reading: "appended") }.joined(separator: ",\n"))
            SELECT \(columns) FROM appended
            """
    }

    /// The global read (`readGlobal`'s xid8 rule), prepared.
    enum ReadGlobal: PreparedSQL {
        static let sql = EventStore.globalOrderSQL(after: "($1::xid8, $2)", limit: "$3")
    }

    /// The events after `cursor` (an SQL row of transaction id and position) in the global
    /// order, by the xid8 rule of `readGlobal`: the one text of that rule, for every reader's
    /// statement. `extraColumns` follow `columns` in each row (`decode` reads only `columns`).
    public static func globalOrderSQL(after cursor: String, limit: String, alsoSelecting extraColumns: String? = nil) -> String {
        """
        SELECT \(columns)\(extraColumns.map { ", " + $0 } ?? "") FROM events
        WHERE (transaction_id, global_position) > \(cursor)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position
        LIMIT \(limit)
        """
    }

    enum ReadStream: PreparedSQL {
        static let sql = "SELECT \(EventStore.columns) FROM events WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3"
    }

    /// Reads one stream on a connection the caller holds (for example inside its transaction).
    public static func readStream(_ streamId: String, on connection: PostgresConnection, logger: Logger) async throws -> [RecordedEvent] {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: columns) FROM events WHERE stream_id = \(streamId) ORDER BY stream_version
            """,
            logger: logger
        )
        return try await decode(rows)
    }

    /// Reads the global order after `cursor`, never skipping an event whose transaction commits late:
    /// only transactions older than every transaction still running are visible to this reader, so
    /// no event can later appear before the returned ones.
    public func readGlobal(after cursor: GlobalCursor, limit: Int = 500) async throws -> [RecordedEvent] {
        let bindings = try PostgresBindings(String(cursor.transactionId), cursor.position, limit)
        return try await Self.decode(try await client.execute(Prepared(ReadGlobal.self, bindings), logger: logger))
    }

    public static func readGlobal(after cursor: GlobalCursor, limit: Int, on connection: PostgresConnection, logger: Logger)
        async throws -> [RecordedEvent]
    {
        let bindings = try PostgresBindings(String(cursor.transactionId), cursor.position, limit)
        return try await decode(try await connection.execute(Prepared(ReadGlobal.self, bindings), logger: logger))
    }

    /// The columns `decode` expects, in order.
    public static let columns = """
        global_position, transaction_id::text, stream_id, stream_version, event_id, event_type, schema_version,
        data::text, metadata::text, recorded_at, prev_hash, hash
        """

    /// How many `columns` there are: a statement may select more after them.
    public static let columnCount = 12

    public static func decode<Rows: AsyncSequence>(_ rows: Rows) async throws -> [RecordedEvent] where Rows.Element == PostgresRow {
        var events: [RecordedEvent] = []
        for try await row in rows {
            events.append(try decode(row))
        }
        return events
    }

    /// One row that starts with `columns`.
    public static func decode(_ row: PostgresRow) throws -> RecordedEvent {
        let (position, transaction, streamId, version, eventId, type, schemaVersion, data, metadata, recordedAt, previousHash, hash) =
            try row.decode((Int64, String, String, Int64, UUID, String, Int32, String, String, Date, Data, Data).self)
        return RecordedEvent(
            globalPosition: position,
            transactionId: UInt64(transaction) ?? 0,
            streamId: streamId,
            streamVersion: version,
            eventId: eventId,
            eventType: type,
            schemaVersion: Int(schemaVersion),
            data: data,
            metadata: metadata,
            recordedAt: recordedAt,
            previousHash: [UInt8](previousHash),
            hash: [UInt8](hash)
        )
    }

    /// A unique violation on (stream_id, stream_version), from the constraint or the insert trigger,
    /// means another writer got there first.
    static func conflict(_ error: PSQLError, appends: [StreamAppend]) -> EventStoreError? {
        // Two first appends to one new stream collide on stream_heads' key instead.
        guard error.serverInfo?[.sqlState] == "23505",
            ["events_stream_version_unique", "stream_heads_pkey"].contains(error.serverInfo?[.constraintName])
        else { return nil }
        let message = error.serverInfo?[.message] ?? ""
        let detail = error.serverInfo?[.detail] ?? ""
        guard let losing = appends.first(where: { message.contains("stream \($0.streamId) ") || detail.contains("(\($0.streamId),") })
        else { return .wrongExpectedVersion(streamId: "?", expected: .any) }
        return .wrongExpectedVersion(streamId: losing.streamId, expected: losing.expectedVersion)
    }

    /// True for the unique violation that means another writer appended to the stream first.
    public static func isVersionConflict(_ error: PSQLError) -> Bool {
        conflict(error, appends: []) != nil
    }

    static func translate(_ error: any Error) -> any Error {
        if let error = error as? PSQLError, let conflict = conflict(error, appends: []) { return conflict }
        return error
    }
}
