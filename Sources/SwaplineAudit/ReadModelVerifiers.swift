import Foundation
import Logging
import PostgresNIO
import SwaplineApplication
import SwaplineDomain
import SwaplineEventStore

/// The read models `audit verify` recomputes from the events.
public enum ReadModelVerifiers {
    public static let all: [any ProjectionVerifier] = [ExchangesVerifier(), BalancesVerifier()]
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
