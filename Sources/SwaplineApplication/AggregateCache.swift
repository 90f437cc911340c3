import SwaplineEventStore

/// Keeps the last rebuilt (state, version) of recently used streams, so loading an aggregate
/// reads only the events appended since, and does not get slower as its stream grows.
///
/// It is only a shortcut: a load still asks the database for newer events, so a node that
/// missed another node's appends catches up before deciding; a guess (`AggregateLoader.guess…`)
/// skips that read, and a stale entry still never wins an append (the expected version would
/// not match).
actor AggregateCache<State: Sendable> {
    private var entries: [String: (state: State?, version: Int64)] = [:]
    private let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func get(_ streamId: String) -> (state: State?, version: Int64)? {
        entries[streamId]
    }

    func put(_ streamId: String, state: State?, version: Int64) {
        if let existing = entries[streamId], existing.version >= version { return }
        if entries.count >= capacity, entries[streamId] == nil {
            // Dropping an arbitrary half is enough to bound memory; misses only cost a full read.
            for key in entries.keys.prefix(capacity / 2) { entries.removeValue(forKey: key) }
        }
        entries[streamId] = (state, version)
    }
}
