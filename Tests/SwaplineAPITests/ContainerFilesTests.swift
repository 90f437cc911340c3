import Foundation
import Testing
import Yams

/// Docker does not run on the development machines or in CI, so these tests read
/// `docker-compose.yml` (parsed as YAML), the `Dockerfile` and `.dockerignore` and check what a
/// working `docker compose up` depends on, and that the README's Docker section describes them.
@Suite("ContainerFiles: docker-compose.yml and the Dockerfile")
struct ContainerFilesTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ name: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
    }

    /// The compose file as plain Swift values.
    struct Compose {
        var document: [String: Any]
        var services: [String: [String: Any]]

        init() throws {
            let loaded = try Yams.load(yaml: try ContainerFilesTests.text("docker-compose.yml"))
            document = try #require(loaded as? [String: Any], "the compose file is a mapping")
            let services = try #require(document["services"] as? [String: Any], "the compose file has services")
            self.services = services.compactMapValues { $0 as? [String: Any] }
            #expect(self.services.count == services.count, "every service is a mapping")
        }

        /// The PostgreSQL service: the one whose image is postgres.
        func database() throws -> (name: String, service: [String: Any]) {
            let found = services.filter { ($0.value["image"] as? String)?.hasPrefix("postgres:") == true }
            try #require(found.count == 1, "one service runs the postgres image: \(services.keys.sorted())")
            return (found.first!.key, found.first!.value)
        }

        func swapline() throws -> [String: Any] {
            try #require(services["swapline"], "a service named swapline: \(services.keys.sorted())")
        }

        /// A service's environment, written as a mapping or as a list of `NAME=value`.
        static func environment(_ service: [String: Any]) -> [String: String] {
            if let mapping = service["environment"] as? [String: Any] {
                return mapping.mapValues { "\($0)" }
            }
            var result: [String: String] = [:]
            for entry in service["environment"] as? [String] ?? [] {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                result[parts[0]] = parts.count == 2 ? parts[1] : ""
            }
            return result
        }
    }

    @Test func theServicesExistAndSwaplineWaitsForAHealthyDatabase() throws {
        let compose = try Compose()
        let (databaseName, database) = try compose.database()
        let swapline = try compose.swapline()
        #expect(swapline["build"] as? String == "." || (swapline["build"] as? [String: Any])?["context"] as? String == ".", "swapline is built from this repository's Dockerfile")

        let healthcheck = try #require(database["healthcheck"] as? [String: Any], "the database has a healthcheck, so swapline can wait for it")
        let test = healthcheck["test"] as? [String] ?? []
        #expect(test.joined(separator: " ").contains("pg_isready"), "the healthcheck asks PostgreSQL: \(test)")

        // `depends_on` is a list of names, or a mapping with conditions.
        if let conditions = swapline["depends_on"] as? [String: Any] {
            let entry = try #require(conditions[databaseName] as? [String: Any], "swapline depends on \(databaseName)")
            #expect(entry["condition"] as? String == "service_healthy", "swapline starts once the database is healthy, not merely started")
        } else {
            Issue.record("swapline's depends_on must name \(databaseName) with condition service_healthy, got \(String(describing: swapline["depends_on"]))")
        }
    }

    @Test func swaplineReachesTheDatabaseServiceAndNeedsTheMasterKey() throws {
        let compose = try Compose()
        let (databaseName, database) = try compose.database()
        let environment = Compose.environment(try compose.swapline())
        let postgres = Compose.environment(database)

        let url = try #require(environment["DATABASE_URL"].flatMap(URLComponents.init(string:)), "swapline sets a DATABASE_URL")
        #expect(url.scheme == "postgres" || url.scheme == "postgresql")
        #expect(url.host == databaseName, "DATABASE_URL points at the database service by its name")
        #expect(url.port == nil || url.port == 5432)
        #expect(url.user == postgres["POSTGRES_USER"], "the database's user")
        #expect(url.password == postgres["POSTGRES_PASSWORD"], "the database's password")
        #expect(url.path == "/" + (postgres["POSTGRES_DB"] ?? postgres["POSTGRES_USER"] ?? "postgres"), "the database's name")

        let masterKey = try #require(environment["SWAPLINE_MASTER_KEY"], "swapline is given SWAPLINE_MASTER_KEY")
        #expect(masterKey.hasPrefix("${SWAPLINE_MASTER_KEY:?"), "taken from the host, and compose refuses to start without it: \(masterKey)")
    }

    @Test func swaplinePublishesPort8080AndListensOnAllAddresses() throws {
        let compose = try Compose()
        let swapline = try compose.swapline()
        let ports = (swapline["ports"] as? [Any] ?? []).map { "\($0)" }
        #expect(ports.contains { $0 == "8080:8080" || $0.hasSuffix(":8080:8080") }, "port 8080 is published: \(ports)")
        let environment = Compose.environment(swapline)
        #expect(environment["SWAPLINE_PORT"] == nil || environment["SWAPLINE_PORT"] == "8080")
        #expect(environment["SWAPLINE_HOST"] == nil || environment["SWAPLINE_HOST"] == "0.0.0.0", "127.0.0.1 would be unreachable from the host")
    }

    @Test func postgresKeepsItsDataInANamedVolume() throws {
        let compose = try Compose()
        let (_, database) = try compose.database()
        let declared = try #require(compose.document["volumes"] as? [String: Any], "named volumes are declared")
        let mounts = (database["volumes"] as? [Any] ?? []).compactMap { $0 as? String }
        let dataMount = try #require(
            mounts.first { $0.hasSuffix(":/var/lib/postgresql/data") }, "the database mounts a volume on its data directory: \(mounts)")
        let volume = String(dataMount.prefix { $0 != ":" })
        #expect(declared.keys.contains(volume), "\(volume) is a named volume, not a folder of the host")
        #expect(try Self.text("README.md").contains("`\(volume)` volume"), "the README names the volume")
    }

    /// The Dockerfile's instructions, continuation lines joined, comments dropped, grouped by stage.
    static func dockerfileStages() throws -> [[String]] {
        var instructions: [String] = []
        var pending = ""
        for line in try text("Dockerfile").split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if pending.isEmpty && (trimmed.isEmpty || trimmed.hasPrefix("#")) { continue }
            if trimmed.hasSuffix("\\") {
                pending += String(trimmed.dropLast()) + " "
            } else {
                instructions.append(pending + trimmed)
                pending = ""
            }
        }
        var stages: [[String]] = []
        for instruction in instructions {
            if instruction.uppercased().hasPrefix("FROM ") {
                stages.append([instruction])
            } else if !stages.isEmpty {
                stages[stages.count - 1].append(instruction)
            }
        }
        return stages
    }

    @Test func theDockerfileBuildsInOneStageAndRunsAsAnotherUserInTheNext() throws {
        let stages = try Self.dockerfileStages()
        try #require(stages.count >= 2, "multi-stage: a build stage and a small run stage")
        let build = stages[0], run = stages[stages.count - 1]
        let buildName = try #require(build[0].split(separator: " ").last.map(String.init), "the build stage is named")
        #expect(build[0].uppercased().contains(" AS "), "the build stage is named: \(build[0])")
        #expect(build.contains { $0.hasPrefix("RUN ") && $0.contains("swift build -c release") }, "the binary is a release build")
        #expect(!run[0].contains("swift:"), "the run stage is not the Swift toolchain image: \(run[0])")
        #expect(run.contains { $0.hasPrefix("COPY --from=\(buildName)") }, "the run stage takes the binary from the build stage")

        let user = try #require(run.last { $0.hasPrefix("USER ") }, "the run stage sets a USER")
        let name = user.dropFirst("USER ".count).split(separator: ":").first.map(String.init) ?? ""
        #expect(!["root", "0", ""].contains(name), "not root: \(user)")
        let cmd = try #require(run.last { $0.hasPrefix("CMD ") || $0.hasPrefix("ENTRYPOINT ") })
        #expect(run.firstIndex(of: user)! < run.firstIndex(of: cmd)!, "USER comes before the command")
        #expect(cmd.contains("\"serve\""), "the container serves: \(cmd)")
        #expect(run.contains("EXPOSE 8080"))
    }

    @Test func theMigrationsAreCopiedWhereSwaplineLooksForThem() throws {
        let stages = try Self.dockerfileStages()
        let all = stages.joined()
        // Either copied straight into the run stage, or staged in the build stage and copied over.
        let copiesSchema = all.contains { ($0.hasPrefix("COPY ") || $0.hasPrefix("RUN ")) && $0.contains("schema") }
        #expect(copiesSchema, "schema/ is copied into the image")
        let run = try #require(stages.last)
        let env = run.filter { $0.hasPrefix("ENV ") }.joined(separator: " ")
        let schemaDir = try #require(
            env.split(separator: " ").first { $0.hasPrefix("SWAPLINE_SCHEMA_DIR=") }.map { String($0.dropFirst("SWAPLINE_SCHEMA_DIR=".count)) },
            "the run stage sets SWAPLINE_SCHEMA_DIR")
        let workdir = run.last { $0.hasPrefix("WORKDIR ") }.map { String($0.dropFirst("WORKDIR ".count)) } ?? "/"
        let copyTargets = run.filter { $0.hasPrefix("COPY ") }.compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(
            copyTargets.contains { schemaDir == $0 || schemaDir.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") || ($0 == "." && schemaDir.hasPrefix(workdir)) },
            "SWAPLINE_SCHEMA_DIR (\(schemaDir)) lies in what the run stage copies: \(copyTargets)")
        #expect(try Self.text("README.md").contains("`\(schemaDir)`"), "the README says where the migrations are")
    }

    @Test func theBuildContextLeavesOutLocalStateAndSecrets() throws {
        let ignored = Set(try Self.text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for entry in [".build/", ".swapline/", ".git/"] {
            #expect(ignored.contains(entry), ".dockerignore leaves out \(entry)")
        }
        #expect(!ignored.contains("Package.resolved"), "the Dockerfile pins the dependencies with Package.resolved when there is one")
    }

    @Test func theToolchainIsNewEnoughForThePackage() throws {
        let manifest = try Self.text("Package.swift")
        let tools = try #require(manifest.split(separator: "\n").first?.split(separator: ":").last?.trimmingCharacters(in: .whitespaces))
        let dockerfile = try Self.text("Dockerfile")
        let arg = try #require(
            dockerfile.split(separator: "\n").first { $0.hasPrefix("ARG SWIFT_VERSION=") }.map { String($0.dropFirst("ARG SWIFT_VERSION=".count)) })
        #expect(dockerfile.contains("FROM swift:${SWIFT_VERSION}"), "the build stage uses that argument")
        let version = { (text: String) in text.split(separator: ".").compactMap { Int($0) } }
        #expect(version(arg).lexicographicallyPrecedes(version(tools)) == false, "Swift \(arg) builds swift-tools-version \(tools)")
    }
}
