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

    /// Runs `swapline arguments…` against `database` (as its owner URL) and waits for it.
    public static func run(_ arguments: [String], database: TestDatabase) throws -> CommandRun {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let databaseURL = database.url
        process.environment = [
            "DATABASE_URL": "postgres://\(databaseURL.username)@\(databaseURL.host):\(databaseURL.port)/\(databaseURL.database)",
            "SWAPLINE_MASTER_KEY": Data(repeating: 3, count: 32).base64EncodedString(),
            "SWAPLINE_SCHEMA_DIR": TestDatabase.schemaDirectory.path,
            "SWAPLINE_LOG_LEVEL": "error",
        ]
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
