import Foundation

public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// Polls `probe` until it returns a value, or throws `TimedOut` after `seconds`. Tests wait for
/// work this way instead of sleeping a fixed time.
public func eventually<Value: Sendable>(
    _ what: String,
    within seconds: Int = 15,
    _ probe: @Sendable () async throws -> Value?
) async throws -> Value {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while true {
        if let value = try await probe() { return value }
        if ContinuousClock.now > deadline { throw TimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
