import Foundation

/// The exchange aggregate: the rules for what may happen to one exchange.
///
/// ```
/// nil ─request→ requested ─quote→ quoted ─submit→ submitted ─complete→ completed
///                   └──────────────┴───────────────┴──fail→ failed
/// ```
public enum Exchange {
    /// Decides which events `command` produces against `state`, or why it is refused.
    ///
    /// Pure: the caller loads `state` by replaying the stream and appends the events with the
    /// stream version it read, so a concurrent decision on the same exchange loses at append.
    public static func decide(_ command: ExchangeCommand, state: ExchangeState?) throws(DomainError) -> [ExchangeEvent] {
        if case .request(let request) = command {
            guard state == nil else { throw .exchangeAlreadyExists }
            guard request.price.sourceAmount > 0, request.price.destinationAmount > 0 else { throw .invalidAmount }
            return [.requested(request)]
        }
        guard let state else { throw .exchangeNotFound }
        let illegal = DomainError.illegalTransition(from: state.status, command: command.name)

        switch command {
        case .request:
            throw .exchangeAlreadyExists
        case .quote(let executionRate, let at):
            guard state.status == .requested else { throw illegal }
            guard executionRate > 0 else { throw .invalidAmount }
            return [.quoted(ExchangeQuoted(executionRate: executionRate, quotedAt: at))]
        case .submit(let clientOrderId, let at):
            guard state.status == .quoted else { throw illegal }
            return [.submitted(ExchangeSubmitted(clientOrderId: clientOrderId, submittedAt: at))]
        case .complete(let at):
            guard state.status == .submitted else { throw illegal }
            let price = state.request.price
            return [
                .completed(ExchangeCompleted(sourceAmount: price.sourceAmount, destinationAmount: price.destinationAmount, completedAt: at))
            ]
        case .fail(let reason, let detail, let at):
            guard !state.status.isTerminal else { throw illegal }
            return [.failed(ExchangeFailed(reason: reason, detail: detail, failedAt: at))]
        }
    }

    /// Applies one event to `state`.
    ///
    /// Events are facts `decide` already accepted, so evolve does not judge them again and never
    /// traps; an event that cannot apply (a duplicate, or one out of order in a damaged stream)
    /// leaves the state unchanged, so replay always yields a state `decide` could have produced.
    /// Auditors compare a stream against its replay to catch such events.
    public static func evolve(_ state: ExchangeState?, _ event: ExchangeEvent) -> ExchangeState? {
        guard var state else {
            if case .requested(let request) = event {
                return ExchangeState(request: request, status: .requested, updatedAt: request.requestedAt)
            }
            return nil
        }
        switch event {
        case .requested:
            break
        case .quoted(let quoted):
            guard state.status == .requested else { break }
            state.status = .quoted
            state.executionRate = quoted.executionRate
            state.updatedAt = quoted.quotedAt
        case .submitted(let submitted):
            guard state.status == .quoted else { break }
            state.status = .submitted
            state.clientOrderId = submitted.clientOrderId
            state.updatedAt = submitted.submittedAt
        case .completed(let completed):
            guard state.status == .submitted else { break }
            state.status = .completed
            state.completed = completed
            state.updatedAt = completed.completedAt
        case .failed(let failed):
            guard !state.status.isTerminal else { break }
            state.status = .failed
            state.failureReason = failed.reason
            state.failureDetail = failed.detail
            state.updatedAt = failed.failedAt
        }
        return state
    }

    /// The state after all `events`, in order; nil for an empty or never-requested stream.
    public static func replay(_ events: [ExchangeEvent]) -> ExchangeState? {
        events.reduce(nil, evolve)
    }
}
