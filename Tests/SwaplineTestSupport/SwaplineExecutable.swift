import Foundation
import SwaplineEventStore

/// What one run of the `swapline` executable printed and how it ended.
public struct CommandRun: Sendable {
    public var status: Int32
    public var output: String
    public var errors: String
}

/// The built `swapline` executable, run the way an operator's or auditor's script runs it.
public enum SwaplineExecutable {
    /// Beside the test bundle in the build folder.
    public static var url: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("swapline")
    }

    public static var isBuilt: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    /// The master key every process a test starts shares, so they read each other's secrets.
    public static let masterKey = Data(repeating: 3, count: 32).base64EncodedString()

    static func environment(_ database: TestDatabase, _ extra: [String: String]) -> [String: String] {
        let databaseURL = database.url
        return [
            "DATABASE_URL": "postgres://\(databaseURL.username)@\(databaseURL.host):\(databaseURL.port)/\(databaseURL.database)",
            "SWAPLINE_MASTER_KEY": masterKey,
            "SWAPLINE_SCHEMA_DIR": TestDatabase.schemaDirectory.path,
            "SWAPLINE_LOG_LEVEL": "error",
        ].merging(extra) { $1 }
    }

    /// Starts `swapline arguments…` (e.g. a `serve` role) and returns it running; the caller
    /// stops it (`terminate`, or `kill -9` to play a crash) and waits for it.
    public static func launch(_ arguments: [String], database: TestDatabase, environment extra: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = environment(database, extra)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        return process
    }

    /// Runs `swapline arguments…` against `database` (as its owner URL) and waits for it.
    public static func run(_ arguments: [String], database: TestDatabase, environment extra: [String: String] = [:]) throws -> CommandRun {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = environment(database, extra)
        // Standard error goes to a file so a chatty command cannot fill a pipe nobody reads yet.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("swapline-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let errorHandle = try FileHandle(forWritingTo: errorFile)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = errorHandle
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try errorHandle.close()
        return CommandRun(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: (try? Data(contentsOf: errorFile)) ?? Data(), as: UTF8.self))
    }
}
