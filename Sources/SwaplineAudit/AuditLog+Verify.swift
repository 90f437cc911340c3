import Foundation
import Logging
import PostgresNIO
import SwaplineDomain

extension AuditLog {
    /// Proves the history was not altered, and that money adds up.
    ///
    /// Inside one read snapshot it walks every stream in version order and, for each event,
    /// recomputes the documented hash in Swift from the stored columns, checks the `prev_hash`
    /// link and that versions run 1, 2, 3, … without a gap; checks each stream's last event
    /// against `stream_heads` (version, hash, position) and reports heads without events and
    /// streams without a head. Against a `seal`, every sealed stream must still reach its sealed
    /// version with the sealed hash there: that catches a superuser who rewrote events and heads
    /// together. It replays every aggregate, checks that each exchange's hold, release and
    /// settlement in its account stream match the exchange, and that money is conserved per
    /// currency: deposits − withdrawals = accounts' available + held + the house's take from
    /// completed exchanges. Finally each registered `ProjectionVerifier` recomputes its read
    /// model (none until the projections exist).
    /// `progress` gets (events checked, events in all) every thousand events and at the end.
    public func verify(seal: Seal? = nil, progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> AuditReport {
        let projections = self.projections
        return try await withReadSnapshot { connection in
            let total = try await Self.count("SELECT count(*) FROM events", on: connection, logger: logger)
            var walk = ChainWalk(seal: seal)
            let heads = try await connection.query(
                "SELECT stream_id, last_version, last_hash, last_position FROM stream_heads", logger: logger)
            for try await (streamId, version, hash, position) in heads.decode((String, Int64, Data, Int64).self) {
                walk.heads[streamId] = ChainWalk.StoredHead(version: version, hash: Hex.encode([UInt8](hash)), position: position)
            }
            // Grouped by stream, in version order; the collation only has to keep a stream's rows together.
            let events = try await connection.query(
                "SELECT \(unescaped: AuditedEvent.columns) FROM events ORDER BY events.stream_id, events.stream_version", logger: logger)
            var visited = 0
            for try await row in events {
                walk.visit(try AuditedEvent.decode(row))
                visited += 1
                if visited % 1000 == 0 { progress(visited, total) }
            }
            progress(visited, total)
            walk.finish()
            var checked: [String] = []
            for projection in projections {
                walk.findings += try await projection.verify(on: connection, logger: logger)
                checked.append(projection.name)
            }
            return walk.report(projectionsChecked: checked)
        }
    }
}

/// The state of one `verify` pass over the store: chain checks per stream, replayed aggregates,
/// and the per-exchange and per-currency facts compared at the end.
struct ChainWalk {
    struct StoredHead {
        var version: Int64
        var hash: String
        var position: Int64
    }

    /// Where the walk is within the current stream.
    struct Progress {
        var streamId: String
        var expectedVersion: Int64 = 1
        var previousHash = Hex.zeroHash
        var last: AuditedEvent?
        var sawSealedVersion = false
        var exchange: ExchangeState?
        var account: AccountState?
    }

    /// What the exchange stream and the account streams said about one exchange.
    struct ExchangeFacts {
        struct Mention {
            var streamId: String
            var version: Int64
        }
        var streamId: String
        var request: ExchangeRequested?
        var completed: (version: Int64, event: ExchangeCompleted)?
        var failedVersion: Int64?
        var holds: [(Mention, FundsHeld)] = []
        var releases: [(Mention, HoldReleased)] = []
        var settlements: [(Mention, ExchangeSettled)] = []
    }

    var heads: [String: StoredHead] = [:]
    let seal: Seal?
    let sealed: [String: Seal.Head]
    var findings: [AuditFinding] = []
    var progress: Progress?
    var visitedStreams: Set<String> = []
    var eventsChecked = 0
    var exchanges: [ExchangeID: ExchangeFacts] = [:]
    var deposits: [Currency: Decimal] = [:]
    var withdrawals: [Currency: Decimal] = [:]
    var accounts: [Currency: Decimal] = [:]
    var house: [Currency: Decimal] = [:]

    init(seal: Seal?) {
        self.seal = seal
        self.sealed = Dictionary((seal?.heads ?? []).map { ($0.streamId, $0) }, uniquingKeysWith: { first, _ in first })
    }

    mutating func visit(_ event: AuditedEvent) {
        if progress?.streamId != event.streamId {
            finishStream()
            progress = Progress(streamId: event.streamId)
            visitedStreams.insert(event.streamId)
        }
        guard var current = progress else { return }
        eventsChecked += 1
        let stream = event.streamId
        let version = event.streamVersion

        if version != current.expectedVersion {
            let missing = current.expectedVersion == version - 1 ? "version \(version - 1) is" : "versions \(current.expectedVersion)…\(version - 1) are"
            report(
                stream, version, "stream_version", expected: String(current.expectedVersion), actual: String(version),
                version > current.expectedVersion
                    ? "\(missing) missing: events were deleted from the stream" : "versions out of order")
        }
        if event.prevHash != current.previousHash {
            let link = current.last.map { "the hash of version \($0.streamVersion)" } ?? "32 zero bytes (the stream's first event)"
            report(
                stream, version, "prev_hash", expected: current.previousHash, actual: event.prevHash,
                "does not link to \(link): the chain is broken before this event")
        }
        let recomputed = event.recomputedHash
        if recomputed != event.hash {
            report(
                stream, version, "hash", expected: recomputed, actual: event.hash,
                "the stored hash does not match the row's columns (stream_id, stream_version, event_id, event_type, schema_version, "
                    + "recorded_at, data, metadata): the row was changed after it was written")
        }
        if let sealedHead = sealed[stream], sealedHead.version == version {
            current.sawSealedVersion = true
            if sealedHead.hash != event.hash {
                report(
                    stream, version, "seal.hash", expected: sealedHead.hash, actual: event.hash,
                    "the event the seal recorded at this version has been replaced since the seal was taken")
            }
        }
        current.expectedVersion = version + 1
        current.previousHash = event.hash
        current.last = event
        replay(event, into: &current)
        progress = current
    }

    /// Applies the event to its aggregate and records what the cross-checks need.
    private mutating func replay(_ event: AuditedEvent, into current: inout Progress) {
        let stream = event.streamId
        let version = event.streamVersion
        if stream.hasPrefix("exchange-") {
            let decoded: ExchangeEvent
            do {
                decoded = try AuditLog.exchangeEvent(event)
            } catch {
                report(stream, version, "data", expected: "a readable \(event.eventType) v\(event.schemaVersion)", actual: "\(error)", "the payload cannot be read")
                return
            }
            let next = Exchange.evolve(current.exchange, decoded)
            if next == current.exchange {
                report(
                    stream, version, "event_type", expected: "an event that applies to status \(current.exchange?.status.rawValue ?? "none")",
                    actual: event.eventType, "the event cannot apply to the exchange at this point: the stream was damaged")
            }
            current.exchange = next
            guard let state = next else { return }
            var facts = exchanges[state.id] ?? ExchangeFacts(streamId: stream)
            switch decoded {
            case .requested(let request):
                facts.request = request
            case .completed(let completed):
                facts.completed = (version, completed)
                let pair = state.request.price.pair
                house[pair.source, default: 0] += completed.sourceAmount
                house[pair.destination, default: 0] -= completed.destinationAmount
            case .failed:
                facts.failedVersion = version
            case .quoted, .submitted:
                break
            }
            exchanges[state.id] = facts
        } else if stream.hasPrefix("account-") {
            let decoded: AccountEvent
            do {
                decoded = try AuditLog.accountEvent(event)
            } catch {
                report(stream, version, "data", expected: "a readable \(event.eventType) v\(event.schemaVersion)", actual: "\(error)", "the payload cannot be read")
                return
            }
            let next = Account.evolve(current.account, decoded)
            if next == current.account {
                report(
                    stream, version, "event_type", expected: "an event that applies to the account", actual: event.eventType,
                    "the event has no effect on the replayed account (for example a release or settlement of a hold that is not there)")
            }
            current.account = next
            let mention = ExchangeFacts.Mention(streamId: stream, version: version)
            switch decoded {
            case .deposited(let deposit):
                deposits[deposit.currency, default: 0] += deposit.amount
            case .withdrawn(let withdrawal):
                withdrawals[withdrawal.currency, default: 0] += withdrawal.amount
            case .held(let held):
                exchanges[held.exchangeId, default: ExchangeFacts(streamId: "exchange-\(held.exchangeId)")].holds.append((mention, held))
            case .released(let released):
                exchanges[released.exchangeId, default: ExchangeFacts(streamId: "exchange-\(released.exchangeId)")].releases.append(
                    (mention, released))
            case .settled(let settled):
                exchanges[settled.exchangeId, default: ExchangeFacts(streamId: "exchange-\(settled.exchangeId)")].settlements.append(
                    (mention, settled))
            case .opened:
                break
            }
        }
        // Other streams carry no money; their chain is still checked above.
    }

    /// Compares the finished stream's end with its head and its seal, and adds its balances.
    mutating func finishStream() {
        guard let current = progress, let last = current.last else { return }
        let stream = current.streamId
        if let head = heads[stream] {
            if head.version != last.streamVersion {
                report(
                    stream, max(head.version, last.streamVersion), "stream_heads.last_version", expected: String(head.version),
                    actual: String(last.streamVersion),
                    head.version > last.streamVersion
                        ? "the head names version \(head.version) but the stream ends at \(last.streamVersion): its last events were deleted"
                        : "the stream has events past its head: they were written behind the event store's back")
            } else {
                if head.hash != last.hash {
                    report(
                        stream, last.streamVersion, "stream_heads.last_hash", expected: head.hash, actual: last.hash,
                        "the last event's hash differs from the one its head recorded: the event was replaced")
                }
                if head.position != last.globalPosition {
                    report(
                        stream, last.streamVersion, "stream_heads.last_position", expected: String(head.position),
                        actual: String(last.globalPosition), "the last event is not the row its head recorded")
                }
            }
        } else {
            report(
                stream, last.streamVersion, "stream_heads", expected: "a head at version \(last.streamVersion)", actual: "none",
                "the stream has no head: it was written behind the event store's back or its head was deleted")
        }
        if let sealedHead = sealed[stream] {
            if last.streamVersion < sealedHead.version {
                report(
                    stream, sealedHead.version, "seal.version", expected: "at least \(sealedHead.version)", actual: String(last.streamVersion),
                    "the stream is shorter than when it was sealed: sealed events were deleted")
            } else if !current.sawSealedVersion {
                report(
                    stream, sealedHead.version, "seal.hash", expected: sealedHead.hash, actual: "missing",
                    "the event the seal recorded at this version was deleted")
            }
        }
        if let account = current.account {
            for currency in account.currencies {
                accounts[currency, default: 0] += account.availableBalance(currency) + account.heldBalance(currency)
            }
        }
        progress = nil
    }

    /// Finishes the last stream and runs the store-wide checks.
    mutating func finish() {
        finishStream()
        for (stream, head) in heads.sorted(by: { $0.key < $1.key }) where !visitedStreams.contains(stream) {
            report(
                stream, head.version, "stream_heads", expected: "events up to version \(head.version)", actual: "no events",
                "the head names a stream whose events were all deleted")
        }
        if let seal {
            for head in seal.heads where !visitedStreams.contains(head.streamId) {
                report(
                    head.streamId, head.version, "seal.version", expected: "at least \(head.version)", actual: "no events",
                    "a sealed stream has no events any more")
            }
            if !seal.isIntact {
                findings.append(
                    AuditFinding(
                        streamId: AuditFinding.sealFile, field: "digest", expected: Seal.digest(of: seal.heads), actual: seal.digest,
                        message: "the seal file does not match its own digest or count: it was edited; its heads cannot be trusted"))
            }
        }
        crossCheckExchanges()
        for line in conservation() where !line.balances {
            findings.append(
                AuditFinding(
                    streamId: AuditFinding.allStreams, field: "balance.\(line.currency)", expected: (line.deposits - line.withdrawals).plainText,
                    actual: (line.accounts + line.house).plainText,
                    message: "money is not conserved in \(line.currency): deposits \(line.deposits.plainText) − withdrawals "
                        + "\(line.withdrawals.plainText) ≠ accounts \(line.accounts.plainText) + house \(line.house.plainText)"))
        }
    }

    /// Each exchange's hold, release and settlement must match the exchange itself.
    private mutating func crossCheckExchanges() {
        for (id, facts) in exchanges.sorted(by: { $0.key < $1.key }) {
            guard let request = facts.request else {
                let mentions = facts.holds.map(\.0) + facts.releases.map(\.0) + facts.settlements.map(\.0)
                for mention in mentions {
                    report(
                        mention.streamId, mention.version, "data.exchangeId", expected: "an existing exchange", actual: String(id),
                        "names exchange \(id), which has no ExchangeRequested")
                }
                continue
            }
            let price = request.price
            let accountStream = "account-\(request.account.rawValue)"
            if facts.holds.isEmpty {
                report(
                    facts.streamId, 1, "hold", expected: "FundsHeld \(price.sourceAmount.plainText) \(price.pair.source) in \(accountStream)",
                    actual: "none", "the exchange's source funds were never held")
            }
            for (mention, held) in facts.holds {
                compare(mention, "data.currency", expected: price.pair.source.code, actual: held.currency.code, of: id)
                compare(mention, "data.amount", expected: price.sourceAmount.plainText, actual: held.amount.plainText, of: id)
                compare(mention, "stream_id", expected: accountStream, actual: mention.streamId, of: id)
            }
            if let (version, completed) = facts.completed {
                if facts.settlements.isEmpty {
                    report(
                        facts.streamId, version, "settlement", expected: "ExchangeSettled in \(accountStream)", actual: "none",
                        "the exchange completed but its account was never settled")
                }
                for (index, (mention, settled)) in facts.settlements.enumerated() {
                    if index > 0 {
                        report(
                            mention.streamId, mention.version, "event_type", expected: "one ExchangeSettled", actual: "ExchangeSettled again",
                            "exchange \(id) was settled more than once")
                    }
                    compare(mention, "data.sourceCurrency", expected: price.pair.source.code, actual: settled.sourceCurrency.code, of: id)
                    compare(mention, "data.sourceAmount", expected: completed.sourceAmount.plainText, actual: settled.sourceAmount.plainText, of: id)
                    compare(
                        mention, "data.destinationCurrency", expected: price.pair.destination.code, actual: settled.destinationCurrency.code, of: id)
                    compare(
                        mention, "data.destinationAmount", expected: completed.destinationAmount.plainText,
                        actual: settled.destinationAmount.plainText, of: id)
                    compare(mention, "stream_id", expected: accountStream, actual: mention.streamId, of: id)
                }
            } else {
                for (mention, _) in facts.settlements {
                    report(
                        mention.streamId, mention.version, "event_type", expected: "no settlement", actual: "ExchangeSettled",
                        "settles exchange \(id), which did not complete")
                }
            }
            if let version = facts.failedVersion, facts.releases.isEmpty, !facts.holds.isEmpty {
                report(
                    facts.streamId, version, "release", expected: "HoldReleased in \(accountStream)", actual: "none",
                    "the exchange failed but its hold was never released")
            }
            if facts.failedVersion == nil {
                for (mention, _) in facts.releases {
                    report(
                        mention.streamId, mention.version, "event_type", expected: "no release", actual: "HoldReleased",
                        "releases the hold of exchange \(id), which did not fail")
                }
            }
        }
    }

    private mutating func compare(_ mention: ExchangeFacts.Mention, _ field: String, expected: String, actual: String, of id: ExchangeID) {
        guard expected != actual else { return }
        report(mention.streamId, mention.version, field, expected: expected, actual: actual, "disagrees with exchange-\(id)")
    }

    func conservation() -> [CurrencyConservation] {
        let currencies = Set(deposits.keys).union(withdrawals.keys).union(accounts.keys).union(house.keys).sorted()
        return currencies.map {
            CurrencyConservation(
                currency: $0.code, deposits: deposits[$0] ?? 0, withdrawals: withdrawals[$0] ?? 0, accounts: accounts[$0] ?? 0,
                house: house[$0] ?? 0)
        }
    }

    private mutating func report(_ stream: String, _ version: Int64?, _ field: String, expected: String, actual: String, _ message: String) {
        findings.append(AuditFinding(streamId: stream, version: version, field: field, expected: expected, actual: actual, message: message))
    }

    func report(projectionsChecked: [String]) -> AuditReport {
        AuditReport(
            findings: findings, streamsChecked: visitedStreams.union(heads.keys).count, eventsChecked: eventsChecked,
            sealedStreamsChecked: seal?.heads.count, projectionsChecked: projectionsChecked, conservation: conservation())
    }
}
