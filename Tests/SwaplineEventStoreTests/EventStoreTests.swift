import Foundation
import PostgresNIO
import SwaplineEventStore
import SwaplineTestSupport
import Testing

@Suite("Event store against PostgreSQL")
struct EventStoreTests {
    func event(_ type: String = "Happened", _ n: Int = 0) -> NewEvent {
        NewEvent(eventType: type, data: #"{"n": \#(n), "amount": "100.00"}"#)
    }

    @Test func appendsAndReadsAStreamWithAHashChain() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .noStream, events: [event("A", 1), event("B", 2)])])
            try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .exact(2), events: [event("C", 3)])])
            let events = try await store.readStream("s-1")
            #expect(events.map(\.eventType) == ["A", "B", "C"])
            #expect(events.map(\.streamVersion) == [1, 2, 3])
            #expect(events[0].previousHash == [UInt8](repeating: 0, count: 32))
            #expect(events[1].previousHash == events[0].hash)
            #expect(events[2].previousHash == events[1].hash)
            #expect(events[0].data == #"{"n": 1, "amount": "100.00"}"#)
            // The chain is recomputable from the stored columns with the documented formula.
            let recomputed = try await database.app.query(
                """
                SELECT bool_and(hash = sha256(prev_hash || convert_to(event_canonical_text(events), 'UTF8'))) FROM events
                """
            ).decode(Bool.self).first { _ in true }
            #expect(recomputed == true)
        }
    }

    /// Concurrent appends commit together; one that fails fails alone: the others of its batch
    /// are stored, its own streams untouched.
    @Test func concurrentAppendsCommitTogetherAndAConflictFailsOnlyItsOwnCall() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger, groupCommit: true)
            func twoStreams(_ prefix: String, _ n: Int) -> [StreamAppend] {
                [
                    StreamAppend(streamId: "\(prefix)a-\(n)", expectedVersion: .noStream, events: [event("A", n)]),
                    StreamAppend(streamId: "\(prefix)b-\(n)", expectedVersion: .noStream, events: [event("B", n), event("C", n)]),
                ]
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<30 {
                    group.addTask {
                        let appended = try await store.append(twoStreams("together-", n))
                        #expect(appended.map(\.streamId) == ["together-a-\(n)", "together-b-\(n)", "together-b-\(n)"])
                        #expect(appended.map(\.streamVersion) == [1, 1, 2])
                    }
                }
                try await group.waitForAll()
            }
            let commits = try await database.app.query(
                "SELECT count(*)::int, count(DISTINCT transaction_id)::int FROM events WHERE stream_id LIKE 'together-%'"
            ).decode((Int, Int).self).first { _ in true }
            let (stored, transactions) = try #require(commits)
            #expect(stored == 30 * 3)
            #expect(transactions < 30, "some calls shared a commit")
            for n in [0, 17, 29] {
                #expect(try await store.readStream("together-b-\(n)").map(\.eventType) == ["B", "C"])
            }

            // Every tenth call expects a version "taken" does not have.
            try await store.append([StreamAppend(streamId: "taken", expectedVersion: .noStream, events: [event()])])
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for n in 0..<40 {
                    group.addTask {
                        if n % 10 == 5 {
                            do {
                                try await store.append([
                                    StreamAppend(streamId: "lost-\(n)", expectedVersion: .noStream, events: [self.event("A", n)]),
                                    StreamAppend(streamId: "taken", expectedVersion: .exact(7), events: [self.event("B", n)]),
                                ])
                                return (n, false)
                            } catch {
                                return (n, error as? EventStoreError == .wrongExpectedVersion(streamId: "taken", expected: .exact(7)))
                            }
                        }
                        return (n, (try? await store.append(twoStreams("mixed-", n)))?.count == 3)
                    }
                }
                var outcomes: [Int: Bool] = [:]
                for await (n, asExpected) in group { outcomes[n] = asExpected }
                return outcomes
            }
            #expect(outcomes.count == 40 && outcomes.values.allSatisfy { $0 }, "\(outcomes.filter { !$0.value }.keys.sorted())")
            let counts = try await database.app.query(
                """
                SELECT count(*) FILTER (WHERE stream_id LIKE 'mixed-%')::int, count(*) FILTER (WHERE stream_id LIKE 'lost-%')::int,
                       count(*) FILTER (WHERE stream_id = 'taken')::int
                FROM events
                """
            ).decode((Int, Int, Int).self).first { _ in true }
            let (mixed, lost, taken) = try #require(counts)
            #expect(mixed == 36 * 3)
            #expect(lost == 0)
            #expect(taken == 1)
        }
    }

    /// Calls on one stream in the same batch are not combined; with `.any` each takes the next version.
    @Test func concurrentAppendsToOneStreamEachTakeTheNextVersion() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger, groupCommit: true)
            // (Two concurrent first appends to one new stream collide on its head: a conflict, as before.)
            try await store.append([StreamAppend(streamId: "shared", expectedVersion: .noStream, events: [event("A", 0)])])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 1..<20 {
                    group.addTask { try await store.append([StreamAppend(streamId: "shared", expectedVersion: .any, events: [self.event("A", n)])]) }
                }
                try await group.waitForAll()
            }
            #expect(try await store.readStream("shared").map(\.streamVersion) == Array(1...20))
        }
    }

    /// A stream is read a page per statement, so no read of a long stream is one long statement.
    @Test func aStreamIsReadInPagesInVersionOrder() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "long", expectedVersion: .noStream, events: (1...7).map { event("E", $0) })])
            var pages: [[Int64]] = []
            try await store.readStream("long", from: 2, pageSize: 3) { pages.append($0.map(\.streamVersion)) }
            #expect(pages == [[2, 3, 4], [5, 6, 7]])
            pages = []
            try await store.readStream("long", pageSize: 7) { pages.append($0.map(\.streamVersion)) }
            #expect(pages == [[1, 2, 3, 4, 5, 6, 7]])
            #expect(try await store.readStream("long").map(\.streamVersion) == Array(1...7))
            #expect(try await store.readStream("none").isEmpty)
        }
    }

    @Test func refusesAWrongExpectedVersion() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .noStream, events: [event()])])
            await #expect(throws: EventStoreError.wrongExpectedVersion(streamId: "s-1", expected: .noStream)) {
                try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .noStream, events: [event()])])
            }
            await #expect(throws: EventStoreError.wrongExpectedVersion(streamId: "s-1", expected: .exact(5))) {
                try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .exact(5), events: [event()])])
            }
            // Several streams in one transaction: one conflict and nothing of the batch is written.
            await #expect(throws: EventStoreError.self) {
                try await store.append([
                    StreamAppend(streamId: "s-2", expectedVersion: .noStream, events: [event()]),
                    StreamAppend(streamId: "s-1", expectedVersion: .exact(0), events: [event()]),
                ])
            }
            #expect(try await store.readStream("s-2").isEmpty)
            try await store.append([
                StreamAppend(streamId: "s-2", expectedVersion: .noStream, events: [event()]),
                StreamAppend(streamId: "s-1", expectedVersion: .exact(1), events: [event()]),
                StreamAppend(streamId: "s-3", expectedVersion: .any, events: [event(), event()]),
            ])
            #expect(try await store.readStream("s-1").count == 2)
            #expect(try await store.readStream("s-3").map(\.streamVersion) == [1, 2])
        }
    }

    @Test func concurrentWritersToOneStreamNeverShareAVersion() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "hot", expectedVersion: .noStream, events: [event()])])
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            try await store.append([StreamAppend(streamId: "hot", expectedVersion: .exact(1), events: [self.event()])])
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await store.readStream("hot").count == 2)
        }
    }

    @Test func concurrentFirstAppendsToANewStreamConflictCleanly() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            let results = await withTaskGroup(of: String.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do {
                            try await store.append([StreamAppend(streamId: "new", expectedVersion: .noStream, events: [self.event()])])
                            return "ok"
                        } catch let error as EventStoreError {
                            return "\(error)"
                        } catch {
                            return "unexpected \(String(reflecting: error))"
                        }
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == "ok" }.count == 1)
            let unexpected = results.filter { $0.hasPrefix("unexpected") }
            #expect(unexpected.isEmpty)
        }
    }

    @Test func theDatabaseRefusesUpdateDeleteAndTruncate() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "s-1", expectedVersion: .noStream, events: [event()])])
            for statement in ["UPDATE events SET event_type = 'X'", "DELETE FROM events", "TRUNCATE events"] {
                // Refused for the runtime role by its rights, and for the owner by the triggers.
                for client in [database.app, database.owner] {
                    await #expect(throws: PSQLError.self) {
                        try await client.query(PostgresQuery(unsafeSQL: statement))
                    }
                }
            }
            #expect(try await store.readStream("s-1").count == 1)
        }
    }

    @Test func theRuntimeRoleMayOnlyReadAndAppend() async throws {
        try await TestDatabase.with { database in
            let user = try await database.app.query("SELECT current_user::text").decode(String.self).first { _ in true }
            #expect(user == "swapline_app")
            let timeout = try await database.app.query("SELECT current_setting('statement_timeout')").decode(String.self).first { _ in true }
            #expect(timeout == "15s")
            // The chain's heads are written only by the insert trigger, never by the runtime role.
            await #expect(throws: PSQLError.self) {
                try await database.app.query("INSERT INTO stream_heads VALUES ('x', 1, '\\x00', 1)")
            }
            await #expect(throws: PSQLError.self) {
                try await database.app.query("UPDATE stream_heads SET last_version = 0")
            }
        }
    }

    @Test func aGlobalReaderDoesNotSkipAnEventCommittedLate() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            let logger = database.logger
            // Transaction A takes the lower position but commits after B.
            let (aStarted, aStartedContinuation) = AsyncStream<Void>.makeStream()
            let (bCommitted, bCommittedContinuation) = AsyncStream<Void>.makeStream()
            let slow = Task {
                try await database.app.withTransaction(logger: logger) { connection in
                    _ = try await store.append(
                        [StreamAppend(streamId: "late", expectedVersion: .noStream, events: [NewEvent(eventType: "Late", data: "{}")])],
                        on: connection)
                    aStartedContinuation.yield()
                    for await _ in bCommitted { break }
                }
            }
            for await _ in aStarted { break }
            try await store.append([StreamAppend(streamId: "early", expectedVersion: .noStream, events: [NewEvent(eventType: "Early", data: "{}")])])

            // While A is open the reader must not move past it: B's event is not yet visible.
            let whileOpen = try await store.readGlobal(after: .start)
            #expect(whileOpen.isEmpty)

            bCommittedContinuation.yield()
            try await slow.value
            // Transactions of other tests on the cluster may hold the horizon back for a moment;
            // the reader waits for them, and never returns Early without Late before it.
            let all = try await eventually("both events") {
                let events = try await store.readGlobal(after: .start)
                #expect(events.first?.eventType == nil || events.first?.eventType == "Late")
                return events.count == 2 ? events : nil
            }
            #expect(all.map(\.eventType) == ["Late", "Early"])
            #expect(all[0].globalPosition < all[1].globalPosition)
            let after = try await store.readGlobal(after: all[0].cursor)
            #expect(after.map(\.eventType) == ["Early"])
        }
    }

    /// Transaction ids must sort as numbers: read as text they would put "1004" before "767".
    @Test func theGlobalOrderFollowsTransactionIdsAcrossADigitBoundary() async throws {
        try await TestDatabase.with { database in
            let store = EventStore(client: database.app, logger: database.logger)
            try await store.append([StreamAppend(streamId: "first", expectedVersion: .noStream, events: [event()])])
            let first = try #require(try await store.readStream("first").first?.transactionId)
            var boundary: UInt64 = 10
            while boundary <= first { boundary *= 10 }
            try #require(boundary - first < 50_000, "xid \(first) too far from \(boundary) to burn quickly")
            // Each autocommitted call takes one transaction id; eight connections burn them quickly.
            while true {
                let current = try await database.owner.query("SELECT pg_current_xact_id()::text").decode(String.self).first { _ in true }
                let xid = try #require(current.flatMap { UInt64($0) })
                if xid >= boundary { break }
                let burns = Int(boundary - xid)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for lane in 0..<8 {
                        group.addTask {
                            for _ in stride(from: lane, to: burns, by: 8) {
                                try await database.owner.query("SELECT pg_current_xact_id()")
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await store.append([StreamAppend(streamId: "second", expectedVersion: .noStream, events: [event()])])
            // Other tests' open transactions may hold the horizon back for a moment: page through
            // again until the second event is visible.
            let read = try await eventually("both events readable") { () -> [RecordedEvent]? in
                var read: [RecordedEvent] = []
                var cursor = GlobalCursor.start
                while true {
                    let page = try await store.readGlobal(after: cursor, limit: 1)
                    guard let last = page.last else { break }
                    read += page
                    cursor = last.cursor
                }
                return read.count == 2 ? read : nil
            }
            #expect(read.map(\.streamId) == ["first", "second"])
            let digits = read.map { String($0.transactionId).count }
            #expect(digits.count == 2 && digits[0] < digits[1], "the events straddle \(boundary)")
        }
    }

    @Test func migrationsAreRecordedAndIdempotent() async throws {
        try await TestDatabase.with { database in
            let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
            let again = try await migrator.migrate(client: database.owner, logger: database.logger)
            #expect(again.isEmpty)
            #expect(try await migrator.pending(client: database.owner, logger: database.logger).isEmpty)
            let recorded = try await database.owner.query("SELECT count(*) FROM schema_migrations").decode(Int64.self).first { _ in true }
            #expect(recorded == Int64(migrator.migrations.count))
        }
    }
}
