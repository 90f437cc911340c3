import Foundation
import Logging
import SwaplineDomain
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How log lines look: `json` (one object a line, for collectors) or `text` (swift-log's usual
/// human format).
public enum LogFormat: String, Sendable, CaseIterable {
    case json
    case text

    /// `SWAPLINE_LOG_FORMAT` (`json` or `text`) if set to one of those, otherwise JSON unless
    /// standard error is a terminal.
    public static func resolve(environment: [String: String], standardErrorIsTerminal: Bool) -> LogFormat {
        if let value = environment["SWAPLINE_LOG_FORMAT"].flatMap({ LogFormat(rawValue: $0.lowercased()) }) { return value }
        return standardErrorIsTerminal ? .text : .json
    }

    /// The format for this process: its environment and whether fd 2 is a terminal.
    public static var current: LogFormat {
        resolve(environment: ProcessInfo.processInfo.environment, standardErrorIsTerminal: isatty(2) != 0)
    }
}

/// Where JSON log lines go: each whole line is written under a lock, so lines from concurrent
/// tasks never interleave.
public final class JSONLogOutput: Sendable {
    private let lock = Mutex(())
    private let sink: @Sendable (String) -> Void

    /// `sink` receives one complete line, newline included.
    public init(_ sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    /// Standard error, written with write(2) so nothing is buffered in the process.
    public static let standardError = JSONLogOutput { line in
        var line = line
        line.withUTF8 { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = write(2, base + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    func emit(_ line: String) {
        lock.withLock { _ in sink(line) }
    }
}

/// A swift-log handler writing one JSON object per line: `time` (ISO 8601, UTC, milliseconds),
/// `level`, `label`, `message`, then the metadata as string fields (nested dictionaries
/// flattened with dots; a key that would shadow one of the four is prefixed `metadata.`).
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    let output: JSONLogOutput

    public init(label: String, output: JSONLogOutput = .standardError, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error, merged["error"] == nil { merged["error"] = "\(String(reflecting: error))" }
        output.emit(Self.line(time: Date(), level: event.level, label: label, message: event.message.description, metadata: merged))
    }

    static let reserved: Set<String> = ["time", "level", "label", "message"]

    /// The JSON line (newline included) for one record.
    public static func line(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var fields: [(String, String)] = []
        for (key, value) in metadata { flatten(key, value, into: &fields) }
        fields.sort { $0.0 < $1.0 }
        var line = "{\"time\":"
        appendString(Timestamp.format(time), to: &line)
        line += ",\"level\":"
        appendString(level.rawValue, to: &line)
        line += ",\"label\":"
        appendString(label, to: &line)
        line += ",\"message\":"
        appendString(message, to: &line)
        for (key, value) in fields {
            line += ","
            appendString(reserved.contains(key) ? "metadata.\(key)" : key, to: &line)
            line += ":"
            appendString(value, to: &line)
        }
        line += "}\n"
        return line
    }

    private static func flatten(_ key: String, _ value: Logger.Metadata.Value, into fields: inout [(String, String)]) {
        switch value {
        case .string(let text): fields.append((key, text))
        case .stringConvertible(let convertible): fields.append((key, convertible.description))
        case .array: fields.append((key, value.description))
        case .dictionary(let members):
            for (member, nested) in members { flatten("\(key).\(member)", nested, into: &fields) }
        }
    }

    /// Appends `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to line: inout String) {
        line.unicodeScalars.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case "\u{08}": line += "\\b"
            case "\u{0C}": line += "\\f"
            case "\u{2028}": line += "\\u2028"
            case "\u{2029}": line += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    line += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    line.unicodeScalars.append(scalar)
                }
            }
        }
        line.unicodeScalars.append("\"")
    }
}
