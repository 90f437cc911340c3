import Foundation
import Synchronization

/// Progress of long CLI work (projection rebuild, audit verify and export) on standard error:
/// on a terminal a bar with rate and ETA, redrawn in place five times a second; otherwise a
/// plain line every five seconds, so logs of a scheduled job show it moving without noise.
final class ProgressReporter: Sendable {
    struct Snapshot: Equatable {
        var done: Int
        var total: Int
        var elapsed: Duration
    }

    let label: String
    let unit: String
    let isTerminal: Bool
    private let started = ContinuousClock.now
    private let state = Mutex<(last: Snapshot?, printedAt: ContinuousClock.Instant?, printedDone: Int?)>((nil, nil, nil))
    private let output: @Sendable (String) -> Void

    init(
        label: String, unit: String = "events", isTerminal: Bool = isatty(STDERR_FILENO) != 0,
        output: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }
    ) {
        self.label = label
        self.unit = unit
        self.isTerminal = isTerminal
        self.output = output
    }

    /// Call as often as convenient; it prints only when a line is due.
    func report(done: Int, total: Int) {
        let now = ContinuousClock.now
        let snapshot = Snapshot(done: done, total: total, elapsed: now - started)
        let due = state.withLock { state -> Bool in
            state.last = snapshot
            let interval: Duration = isTerminal ? .milliseconds(200) : .seconds(5)
            if let printedAt = state.printedAt, now - printedAt < interval { return false }
            state.printedAt = now
            state.printedDone = done
            return true
        }
        if due { output(isTerminal ? "\r" + Self.bar(label: label, unit: unit, snapshot) : Self.line(label: label, unit: unit, snapshot) + "\n") }
    }

    /// The last figures (unless already printed as they are), then `outcome` on its own line.
    func finish(_ outcome: String? = nil) {
        let (last, printedDone) = state.withLock { ($0.last, $0.printedDone) }
        if let last {
            if isTerminal {
                output("\r" + Self.bar(label: label, unit: unit, last) + "\n")
            } else if printedDone != last.done {
                output(Self.line(label: label, unit: unit, last) + "\n")
            }
        }
        if let outcome { output("\(label): \(outcome)\n") }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// Items a second so far, and the seconds left at that rate (nil before anything is done).
    static func rate(_ snapshot: Snapshot) -> (perSecond: Int, eta: Int?) {
        let elapsed = max(seconds(snapshot.elapsed), 0.001)
        let perSecond = Double(snapshot.done) / elapsed
        guard perSecond > 0 else { return (0, nil) }
        return (Int(perSecond), Int((Double(max(snapshot.total - snapshot.done, 0)) / perSecond).rounded(.up)))
    }

    static func percent(_ snapshot: Snapshot) -> Int {
        snapshot.total > 0 ? min(100, snapshot.done * 100 / snapshot.total) : 100
    }

    /// `rebuild exchanges: 520000/1000000 events (52 %), 210000 events/s, ETA 3 s`
    static func line(label: String, unit: String, _ snapshot: Snapshot) -> String {
        let (perSecond, eta) = rate(snapshot)
        return "\(label): \(snapshot.done)/\(snapshot.total) \(unit) (\(percent(snapshot)) %), \(perSecond) \(unit)/s, ETA \(eta.map { "\($0) s" } ?? "–")"
    }

    /// `rebuild exchanges [██████████░░░░░░░░░░]  52 %  520000/1000000 events  210000 events/s  ETA 3 s`
    static func bar(label: String, unit: String, _ snapshot: Snapshot, width: Int = 24) -> String {
        let (perSecond, eta) = rate(snapshot)
        let filled = percent(snapshot) * width / 100
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let percentText = String(percent(snapshot))
        return
            "\(label) [\(bar)] \(String(repeating: " ", count: 3 - percentText.count))\(percentText) %  \(snapshot.done)/\(snapshot.total) \(unit)  \(perSecond) \(unit)/s  ETA \(eta.map { "\($0) s" } ?? "–")  "
    }
}
