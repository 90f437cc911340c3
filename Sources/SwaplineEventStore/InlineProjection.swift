import Logging
import PostgresNIO

/// A read model kept in step with the events by the append itself: `apply` runs inside the
/// appending transaction, so the model and the events commit or roll back together.
public protocol InlineProjection: Sendable {
    var name: String { get }
    func apply(_ events: [RecordedEvent], on connection: PostgresConnection, logger: Logger) async throws
}
