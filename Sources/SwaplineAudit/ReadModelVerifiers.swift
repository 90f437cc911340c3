import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore

/// The read models `audit verify` recomputes from the events.
public enum ReadModelVerifiers {
    public static let all: [any ProjectionVerifier] = [ExchangesVerifier(), BalancesVerifier(), ExchangeStatisticsVerifier()]
}

/// Replays every stream with the given prefix in the caller's snapshot, one stream at a time.
func replayStreams<State>(
    prefix: String, on connection: PostgresConnection, logger: Logger,
    replay: ([RecordedEvent]) throws -> State?
) async throws -> [String: (state: State, version: Int64)] {
    let rows = try await connection.query(
        """
        SELECT \(unescaped: EventStore.columns) FROM events
        WHERE stream_id LIKE \(prefix + "%") ORDER BY stream_id, stream_version
        """, logger: logger)
    let events = try await EventStore.decode(rows)
    var states: [String: (state: State, version: Int64)] = [:]
    var start = events.startIndex
    while start < events.endIndex {
        let stream = events[start].streamId
        var end = start
        while end < events.endIndex && events[end].streamId == stream { end += 1 }
        if let state = try replay(Array(events[start..<end])) { states[stream] = (state, events[end - 1].streamVersion) }
        start = end
    }
    return states
}

/// `read.exchanges` against every exchange stream replayed.
public struct ExchangesVerifier: ProjectionVerifier {
    public let name = "exchanges"

    public init() {}

    public func verify(on connection: PostgresConnection, logger: Logger) async throws -> [AuditFinding] {
        let expected = try await replayStreams(prefix: "exchange-", on: connection, logger: logger) { events in
            Exchange.replay(try events.map(Streams.exchangeEvent))
        }
        let rows = try await connection.query(
            """
            SELECT id, account_id, source_currency, destination_currency, direction, source_amount::text, destination_amount::text,
                   rate::text, fee::text, state, failure_reason, stream_version
            FROM read.exchanges
            """, logger: logger)
        var findings: [AuditFinding] = []
        var seen = Set<String>()
        for try await row in rows {
            let (id, account, source, destination, direction, sourceAmount, destinationAmount, rate, fee, state, reason, version) =
                try row.decode((Int64, String, String, String, String, String, String, String, String, String, String?, Int64).self)
            let stream = Streams.exchange(id)
            seen.insert(stream)
            guard let (replayed, lastVersion) = expected[stream] else {
                findings.append(
                    AuditFinding(
                        streamId: stream, field: "read.exchanges", expected: "no row", actual: "a row",
                        message: "read.exchanges has a row for an exchange with no events"))
                continue
            }
            let view = ExchangeView(replayed)
            let columns: [(String, String, String)] = [
                ("account_id", view.account.rawValue, account),
                ("source_currency", view.pair.source.code, source),
                ("destination_currency", view.pair.destination.code, destination),
                ("direction", view.direction.rawValue, direction),
                ("source_amount", view.sourceAmount.plainText, Self.plain(sourceAmount)),
                ("destination_amount", view.destinationAmount.plainText, Self.plain(destinationAmount)),
                ("rate", view.rate.plainText, Self.plain(rate)),
                ("fee", view.fee.plainText, Self.plain(fee)),
                ("state", view.state, state),
                ("failure_reason", view.failureReason?.rawValue ?? "null", reason ?? "null"),
                ("stream_version", String(lastVersion), String(version)),
            ]
            for (column, want, have) in columns where want != have {
                findings.append(
                    AuditFinding(
                        streamId: stream, version: lastVersion, field: "read.exchanges.\(column)", expected: want, actual: have,
                        message: "the exchanges read model differs from the exchange's events"))
            }
        }
        for stream in expected.keys.sorted() where !seen.contains(stream) {
            findings.append(
                AuditFinding(
                    streamId: stream, version: expected[stream]?.version, field: "read.exchanges", expected: "a row", actual: "no row",
                    message: "the exchange is missing from the exchanges read model"))
        }
        return findings
    }

    /// numeric's text keeps trailing zeros ("100.00"); compare values, not spellings.
    static func plain(_ text: String) -> String {
        (try? Amount.parseSignedDecimal(text))?.plainText ?? text
    }
}

/// `read.balances` against every account stream replayed.
public struct BalancesVerifier: ProjectionVerifier {
    public let name = "balances"

    public init() {}

    public func verify(on connection: PostgresConnection, logger: Logger) async throws -> [AuditFinding] {
        let expected = try await replayStreams(prefix: "account-", on: connection, logger: logger) { events in
            Account.replay(try events.map(Streams.accountEvent))
        }
        var rowsByStream: [String: [String: (available: String, held: String)]] = [:]
        let rows = try await connection.query("SELECT account_id, currency, available::text, held::text FROM read.balances", logger: logger)
        for try await (account, currency, available, held) in rows.decode((String, String, String, String).self) {
            rowsByStream["account-\(account)", default: [:]][currency] = (ExchangesVerifier.plain(available), ExchangesVerifier.plain(held))
        }
        var findings: [AuditFinding] = []
        for stream in Set(expected.keys).union(rowsByStream.keys).sorted() {
            let state = expected[stream]?.state
            let version = expected[stream]?.version
            let found = rowsByStream[stream] ?? [:]
            let currencies = Set(state?.currencies.map(\.code) ?? []).union(found.keys).sorted()
            for code in currencies {
                let currency = Currency(code)
                let want = (state?.availableBalance(currency) ?? 0, state?.heldBalance(currency) ?? 0)
                let have = found[code]
                for (column, wanted, actual) in [
                    ("available", want.0.plainText, have?.available ?? "no row"), ("held", want.1.plainText, have?.held ?? "no row"),
                ] where wanted != actual {
                    findings.append(
                        AuditFinding(
                            streamId: stream, version: version, field: "read.balances.\(code).\(column)", expected: wanted, actual: actual,
                            message: "the balances read model differs from the account's events"))
                }
            }
        }
        return findings
    }
}

/// The runner-kept daily statistics against the exchange events up to the runner's checkpoint.
public struct ExchangeStatisticsVerifier: ProjectionVerifier {
    public let name = "exchange_statistics"

    public init() {}

    struct Day: Equatable {
        var created: Int64 = 0
        var completed: Int64 = 0
        var failed: Int64 = 0
        var sourceVolume: Decimal = 0
        var destinationVolume: Decimal = 0
        var fees: Decimal = 0
    }

    public func verify(on connection: PostgresConnection, logger: Logger) async throws -> [AuditFinding] {
        // Only what the runner has applied: events up to its checkpoint in the global order.
        let rows = try await connection.query(
            """
            SELECT \(unescaped: EventStore.columns) FROM events
            WHERE stream_id LIKE 'exchange-%'
              AND (transaction_id, global_position) <= (
                  COALESCE((SELECT transaction_id FROM checkpoints WHERE name = 'exchange_statistics'), '0'::xid8),
                  COALESCE((SELECT position FROM checkpoints WHERE name = 'exchange_statistics'), 0))
            ORDER BY events.transaction_id, events.global_position
            """, logger: logger)
        let events = try await EventStore.decode(rows)
        var requests: [ExchangeID: ExchangeRequested] = [:]
        var expectedDays: [String: Day] = [:]
        var expectedFailures: [String: Int64] = [:]
        func key(_ request: ExchangeRequested) -> String {
            "\(request.account.rawValue) \(Timestamp.utcDay(request.requestedAt)) \(request.price.pair.source.code) \(request.price.pair.destination.code)"
        }
        for recorded in events {
            guard let id = ExchangeID(recorded.streamId.dropFirst("exchange-".count)) else { continue }
            switch try Streams.exchangeEvent(recorded) {
            case .requested(let request):
                requests[id] = request
                expectedDays[key(request), default: Day()].created += 1
            case .completed(let completed):
                guard let request = requests[id] else { continue }
                expectedDays[key(request), default: Day()].completed += 1
                expectedDays[key(request), default: Day()].sourceVolume += completed.sourceAmount
                expectedDays[key(request), default: Day()].destinationVolume += completed.destinationAmount
                expectedDays[key(request), default: Day()].fees += request.price.fee
            case .failed(let failed):
                guard let request = requests[id] else { continue }
                expectedDays[key(request), default: Day()].failed += 1
                expectedFailures["\(key(request)) \(failed.reason.rawValue)", default: 0] += 1
            case .quoted, .submitted:
                continue
            }
        }
        var actualDays: [String: Day] = [:]
        let dayRows = try await connection.query(
            """
            SELECT account_id, day::text, source_currency, destination_currency, created, completed, failed,
                   source_volume::text, destination_volume::text, fees::text
            FROM read.exchange_daily
            """, logger: logger)
        for try await row in dayRows {
            let (account, day, source, destination, created, completed, failed, sourceVolume, destinationVolume, fees) =
                try row.decode((String, String, String, String, Int64, Int64, Int64, String, String, String).self)
            actualDays["\(account) \(day) \(source) \(destination)"] = Day(
                created: created, completed: completed, failed: failed, sourceVolume: try Amount.parseSignedDecimal(sourceVolume),
                destinationVolume: try Amount.parseSignedDecimal(destinationVolume), fees: try Amount.parseSignedDecimal(fees))
        }
        var actualFailures: [String: Int64] = [:]
        let failureRows = try await connection.query(
            "SELECT account_id, day::text, source_currency, destination_currency, failure_reason, failed FROM read.exchange_failures",
            logger: logger)
        for try await (account, day, source, destination, reason, failed) in failureRows.decode((String, String, String, String, String, Int64).self) {
            actualFailures["\(account) \(day) \(source) \(destination) \(reason)"] = failed
        }
        var findings: [AuditFinding] = []
        for key in Set(expectedDays.keys).union(actualDays.keys).sorted() where expectedDays[key] != actualDays[key] {
            findings.append(
                AuditFinding(
                    streamId: "read.exchange_daily", field: key, expected: Self.describe(expectedDays[key]), actual: Self.describe(actualDays[key]),
                    message: "the daily statistics differ from the exchange events up to the runner's checkpoint"))
        }
        for key in Set(expectedFailures.keys).union(actualFailures.keys).sorted() where expectedFailures[key] != actualFailures[key] {
            findings.append(
                AuditFinding(
                    streamId: "read.exchange_failures", field: key, expected: expectedFailures[key].map(String.init) ?? "no row",
                    actual: actualFailures[key].map(String.init) ?? "no row",
                    message: "the failure counts differ from the exchange events up to the runner's checkpoint"))
        }
        return findings
    }

    static func describe(_ day: Day?) -> String {
        guard let day else { return "no row" }
        return "created \(day.created) completed \(day.completed) failed \(day.failed) volumes \(day.sourceVolume.plainText)/\(day.destinationVolume.plainText) fees \(day.fees.plainText)"
    }
}
