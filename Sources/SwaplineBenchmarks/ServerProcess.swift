import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `swapline serve` as a child process on a free loopback port, so that what is measured of the
/// server (its resident memory, its CPU) is the server's alone and not the load generator's,
/// and so that it runs exactly as deployed: its own connection pool, its own services.
public struct ServerProcess: Sendable {
    public let pid: pid_t
    public let port: Int
    /// Where its standard output and error go (shown when it fails).
    let logPath: String

    /// Starts `executable serve --port P roles…` with this process's environment plus
    /// `environment`, waits until `/health` answers, runs `body`, then stops the server with
    /// SIGTERM (its graceful shutdown) and waits for it to exit.
    public static func with<T: Sendable>(
        executable: String, roles: [String], environment: [String: String] = [:], _ body: @Sendable (ServerProcess) async throws -> T
    ) async throws -> T {
        let port = try freePort()
        let logPath = Subprocess.temporaryPath("log")
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        let pid = try Subprocess.start([executable, "serve", "--host", "127.0.0.1", "--port", String(port)] + roles, environment: environment, outputPath: logPath)
        let server = ServerProcess(pid: pid, port: port, logPath: logPath)
        do {
            try await server.waitUntilHealthy()
            let result = try await body(server)
            try server.stop()
            return result
        } catch {
            _ = try? server.stop()
            throw error
        }
    }

    /// Resident memory (VmRSS of /proc/<pid>/status) in MiB; nil where there is no /proc.
    public func residentMebibytes() -> Double? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        // "VmRSS:	  123456 kB"
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Double(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "")
        else { return nil }
        return kilobytes / 1024
    }

    func log() -> String {
        String((((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(3000)))
    }

    func waitUntilHealthy() async throws {
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        defer { http.shutdown { _ in } }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let status = Subprocess.poll(pid) {
                throw Subprocess.Failure(description: "swapline serve exited (\(status)) before answering: \(log())")
            }
            if let response = try? await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(2)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Subprocess.Failure(description: "swapline serve did not answer /health within 60 s: \(log())")
    }

    /// SIGTERM, then SIGKILL if it has not exited after 30 s.
    func stop() throws {
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let status = Subprocess.poll(pid) {
                guard status == 0 else { throw Subprocess.Failure(description: "swapline serve exited with \(status): \(log())") }
                return
            }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = Subprocess.wait(pid)
        throw Subprocess.Failure(description: "swapline serve did not stop within 30 s of SIGTERM")
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
    static func freePort() throws -> Int {
        #if canImport(Glibc)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let socket = socket(AF_INET, stream, 0)
        guard socket >= 0 else { throw Subprocess.Failure(description: "socket() failed") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw Subprocess.Failure(description: "cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
