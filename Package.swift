// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swapline",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swapline", targets: ["SwaplineCLI"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
    ],
    targets: [
        // The pure domain: money, market rules, the exchange and account aggregates. No I/O.
        .target(
            name: "SwaplineDomain",
            swiftSettings: swiftSettings
        ),
        // The append-only PostgreSQL event store: migrations, append, stream and global reads.
        .target(
            name: "SwaplineEventStore",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Read models derived from the events: inline ones (kept in the append's transaction) and,
        // later, analysts' ones kept by a projection runner.
        .target(
            name: "SwaplineProjections",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Use cases over the event store: accounts and keys, quotes, creating exchanges.
        .target(
            name: "SwaplineApplication",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineProjections",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The execution worker and the venue it trades on.
        .target(
            name: "SwaplineExecution",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineProjections",
                "SwaplineApplication",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Webhooks: subscriptions, the SSRF guard, the outbox dispatcher and the delivery workers.
        .target(
            name: "SwaplineNotifier",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineProjections",
                "SwaplineApplication",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Calypso-compatible HTTP API (Hummingbird 2).
        .target(
            name: "SwaplineAPI",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineApplication",
                "SwaplineNotifier",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Auditors' tools: replay, hash-chain and seal verification, export.
        .target(
            name: "SwaplineAudit",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineApplication",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `swapline bench`: Swapline's workloads, each measured beside PostgreSQL's own figure.
        .target(
            name: "SwaplineBenchmarks",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineApplication",
                "SwaplineAPI",
                "SwaplineNotifier",
                "SwaplineProjections",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The one `swapline` executable and its subcommands.
        .executableTarget(
            name: "SwaplineCLI",
            dependencies: [
                "SwaplineDomain",
                "SwaplineEventStore",
                "SwaplineApplication",
                "SwaplineExecution",
                "SwaplineAPI",
                "SwaplineAudit",
                "SwaplineProjections",
                "SwaplineNotifier",
                "SwaplineBenchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Shared test harness: a migrated template database cloned per test.
        .target(
            name: "SwaplineTestSupport",
            dependencies: [
                "SwaplineEventStore",
                "SwaplineApplication",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SwaplineTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineDomainTests",
            dependencies: ["SwaplineDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineEventStoreTests",
            dependencies: [
                "SwaplineEventStore", "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineAPITests",
            dependencies: [
                "SwaplineAPI", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineExecution", "SwaplineProjections",
                "SwaplineNotifier",
                "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineAuditTests",
            dependencies: [
                "SwaplineAudit", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineExecution", "SwaplineProjections",
                "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineProjectionsTests",
            dependencies: [
                "SwaplineProjections", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineExecution",
                "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineNotifierTests",
            dependencies: [
                "SwaplineNotifier", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineExecution", "SwaplineProjections",
                "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineBenchmarksTests",
            dependencies: [
                "SwaplineBenchmarks", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineProjections",
                "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SwaplineExecutionTests",
            dependencies: [
                "SwaplineExecution", "SwaplineApplication", "SwaplineDomain", "SwaplineEventStore", "SwaplineTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
