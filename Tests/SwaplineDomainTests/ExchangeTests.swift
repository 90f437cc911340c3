import Foundation
import SwaplineDomain
import Testing

@Suite struct ExchangeTests {
    /// The events that bring an exchange to each status, by the legal path.
    static func events(to status: ExchangeStatus) -> [ExchangeEvent] {
        let requested = ExchangeEvent.requested(sampleRequest())
        let quoted = ExchangeEvent.quoted(ExchangeQuoted(executionRate: dec("0.000010394"), quotedAt: at(1)))
        let submitted = ExchangeEvent.submitted(ExchangeSubmitted(clientOrderId: "swl-1042", submittedAt: at(2)))
        switch status {
        case .requested: return [requested]
        case .quoted: return [requested, quoted]
        case .submitted: return [requested, quoted, submitted]
        case .completed:
            return [
                requested, quoted, submitted,
                .completed(ExchangeCompleted(sourceAmount: 100, destinationAmount: dec("0.00103846"), completedAt: at(3))),
            ]
        case .failed: return [requested, .failed(ExchangeFailed(reason: .quoteExpired, detail: nil, failedAt: at(40)))]
        }
    }

    static let allStatuses: [ExchangeStatus] = [.requested, .quoted, .submitted, .completed, .failed]

    static let commands: [ExchangeCommand] = [
        .quote(executionRate: dec("0.000010394"), at: at(5)),
        .submit(clientOrderId: "swl-1042", at: at(5)),
        .complete(at: at(5)),
        .fail(.venueRejected, detail: "no", at: at(5)),
    ]

    static let legal: [ExchangeStatus: Set<String>] = [
        .requested: ["quote", "fail"],
        .quoted: ["submit", "fail"],
        .submitted: ["complete", "fail"],
        .completed: [],
        .failed: [],
    ]

    @Test func requestCreatesTheExchange() throws {
        let events = try Exchange.decide(.request(sampleRequest()), state: nil)
        #expect(events == [.requested(sampleRequest())])
        let state = try #require(Exchange.replay(events))
        #expect(state.id == 1042)
        #expect(state.status == .requested)
        #expect(state.status.publicState == "IN_PROGRESS")
        #expect(state.updatedAt == t0)
    }

    @Test func requestTwiceIsRefused() throws {
        for status in Self.allStatuses {
            let state = Exchange.replay(Self.events(to: status))
            #expect(throws: DomainError.exchangeAlreadyExists) { try Exchange.decide(.request(sampleRequest()), state: state) }
        }
    }

    @Test func requestWithoutAmountsIsRefused() {
        var request = sampleRequest()
        request.price.destinationAmount = 0
        #expect(throws: DomainError.invalidAmount) { try Exchange.decide(.request(request), state: nil) }
    }

    @Test(arguments: commands)
    func commandsOnAMissingExchangeAreRefused(command: ExchangeCommand) {
        #expect(throws: DomainError.exchangeNotFound) { try Exchange.decide(command, state: nil) }
    }

    @Test(arguments: allStatuses, commands)
    func everyTransitionIsLegalOrRefused(status: ExchangeStatus, command: ExchangeCommand) throws {
        let state = try #require(Exchange.replay(Self.events(to: status)))
        #expect(state.status == status)
        if Self.legal[status, default: []].contains(command.name) {
            let events = try Exchange.decide(command, state: state)
            #expect(events.count == 1)
            let next = try #require(Exchange.evolve(state, events[0]))
            #expect(next != state)
            #expect(next.updatedAt == at(5))
        } else {
            #expect(throws: DomainError.illegalTransition(from: status, command: command.name)) {
                try Exchange.decide(command, state: state)
            }
        }
    }

    @Test func theHappyPathRecordsEachStep() throws {
        var state = try #require(Exchange.replay(try Exchange.decide(.request(sampleRequest()), state: nil)))
        for command in [
            ExchangeCommand.quote(executionRate: dec("0.000010394"), at: at(1)),
            .submit(clientOrderId: "swl-1042", at: at(2)),
            .complete(at: at(3)),
        ] {
            for event in try Exchange.decide(command, state: state) {
                state = try #require(Exchange.evolve(state, event))
            }
        }
        #expect(state.status == .completed)
        #expect(state.status.publicState == "COMPLETED")
        #expect(state.status.isTerminal)
        #expect(state.executionRate == dec("0.000010394"))
        #expect(state.clientOrderId == "swl-1042")
        // Completion settles at the requested amounts.
        #expect(state.completed == ExchangeCompleted(sourceAmount: 100, destinationAmount: dec("0.00103846"), completedAt: at(3)))
        #expect(state.updatedAt == at(3))
        #expect(state.failureReason == nil)
    }

    @Test(arguments: [ExchangeStatus.requested, .quoted, .submitted])
    func failRecordsTheReason(from status: ExchangeStatus) throws {
        let state = try #require(Exchange.replay(Self.events(to: status)))
        let events = try Exchange.decide(.fail(.rateMoved, detail: "moved 0.7 %", at: at(9)), state: state)
        #expect(events == [.failed(ExchangeFailed(reason: .rateMoved, detail: "moved 0.7 %", failedAt: at(9)))])
        let failed = try #require(Exchange.evolve(state, events[0]))
        #expect(failed.status == .failed)
        #expect(failed.status.publicState == "FAILED")
        #expect(failed.failureReason == .rateMoved)
        #expect(failed.failureDetail == "moved 0.7 %")
        #expect(failed.updatedAt == at(9))
    }

    @Test func quoteNeedsAPositiveRate() throws {
        let state = Exchange.replay(Self.events(to: .requested))
        #expect(throws: DomainError.invalidAmount) { try Exchange.decide(.quote(executionRate: 0, at: at(1)), state: state) }
    }

    @Test func evolveIgnoresEventsThatDoNotApply() throws {
        let requested = ExchangeEvent.requested(sampleRequest())
        let completed = ExchangeEvent.completed(ExchangeCompleted(sourceAmount: 1, destinationAmount: 1, completedAt: at(9)))
        let quoted = ExchangeEvent.quoted(ExchangeQuoted(executionRate: 1, quotedAt: at(1)))
        let quotedAgain = ExchangeEvent.quoted(ExchangeQuoted(executionRate: 2, quotedAt: at(2)))
        let failed = ExchangeEvent.failed(ExchangeFailed(reason: .venueTimeout, detail: nil, failedAt: at(3)))
        // Nothing before the request.
        #expect(Exchange.replay([quoted, completed, failed]) == nil)
        #expect(Exchange.replay([]) == nil)
        // Out of order: completed before submitted is ignored.
        #expect(Exchange.replay([requested, completed]) == Exchange.replay([requested]))
        // A duplicate request does not reset the exchange.
        #expect(Exchange.replay([requested, quoted, requested])?.status == .quoted)
        // A second quote does not replace the first.
        #expect(Exchange.replay([requested, quoted, quotedAgain])?.executionRate == 1)
        // Nothing after a terminal event.
        let terminal = Exchange.replay([requested, failed])
        #expect(Exchange.replay([requested, failed, quoted, completed, failed]) == terminal)
    }

    @Test func publicStates() {
        #expect(Self.allStatuses.map(\.publicState) == ["IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED", "FAILED"])
        #expect(Self.allStatuses.map(\.isTerminal) == [false, false, false, true, true])
        #expect(
            FailureReason.allCases.map(\.rawValue) == [
                "QUOTE_EXPIRED", "RATE_MOVED", "VENUE_REJECTED", "VENUE_TIMEOUT", "INSUFFICIENT_LIQUIDITY", "PAIR_DISABLED",
            ]
        )
    }

    @Test func errorsHaveMessages() {
        #expect(DomainError.illegalTransition(from: .completed, command: "fail").message == "cannot fail an exchange that is completed")
        #expect(DomainError.insufficientBalance(available: dec("5.5")).message.contains("5.5"))
    }
}
