import Synchronization

/// How much work a running worker has in flight, shared by its claiming loop and the tasks it
/// starts (the execution worker's exchanges, the delivery worker's sends).
public final class BusyCount: Sendable {
    private let value = Mutex(0)

    public init() {}

    public var count: Int { value.withLock { $0 } }

    /// Adds `delta`; returns the count before.
    @discardableResult
    public func add(_ delta: Int) -> Int {
        value.withLock { count in
            defer { count += delta }
            return count
        }
    }
}
