import NIOCore
import Synchronization
import SwaplineDomain

/// exchange/get's bodies by exchange and stream version. A merchant polls an exchange until it
/// finishes and gets the same body until its next event, so a get still reads the row (its
/// version decides, and the read checks the account) but decodes and renders it only when it
/// changed: about a tenth of a get's CPU under the benchmark (docs/PERFORMANCE.md).
final class RenderedExchangeBodies: Sendable {
    private let bodies = Mutex<[ExchangeID: (version: Int64, body: ByteBuffer)]>([:])
    /// At most this many bodies (about a kilobyte each); when full it starts over.
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func body(of id: ExchangeID) -> (version: Int64, body: ByteBuffer)? {
        bodies.withLock { $0[id] }
    }

    func keep(_ body: ByteBuffer, of id: ExchangeID, version: Int64) {
        bodies.withLock { bodies in
            if bodies.count >= capacity && bodies[id] == nil { bodies.removeAll(keepingCapacity: true) }
            bodies[id] = (version, body)
        }
    }
}
