import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain
import SwaplineNotifier
import SwaplineTestSupport
import Testing

@Suite("The OpenAPI document agrees with the server")
struct OpenAPIContractTests {
    /// `openapi.yaml` at the repository root.
    static let documentURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("openapi.yaml")

    @Test func theServerEmbedsTheRepositoryDocument() throws {
        let file = try Data(contentsOf: Self.documentURL)
        #expect(
            file == Data(OpenAPIDocument.yaml.utf8),
            "openapi.yaml and Sources/SwaplineAPI/OpenAPIDocument.swift differ: run scripts/embed-openapi")
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteIsServed() async throws {
        try await TestDatabase.with { database in
            let accounts = AccountService(client: database.app, secrets: APIHarness.masterKey, market: .defaults, logger: database.logger)
            let exchanges = ExchangeService(client: database.app, market: .defaults, logger: database.logger)
            let subscriptions = SubscriptionService(
                client: database.app, secrets: APIHarness.masterKey,
                ssrfGuard: SSRFGuard(allowedNetworks: [], resolver: APIHarness.webhookHosts), logger: database.logger)
            // Every optional part switched on, so the router has every route the server can have.
            let router = buildRouter(
                APIDependencies(
                    accounts: accounts, exchanges: exchanges, metrics: PrometheusCollectorRegistry(), subscriptions: subscriptions))
            let served = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
            let document = OpenAPIOutline(OpenAPIDocument.yaml)
            #expect(document.problems.isEmpty, "the document's paths section: \(document.problems)")
            let documented = Set(document.operations)
            #expect(served.contains("DELETE /api/v1/subscription/webhook"), "the router lists its routes: \(served.sorted())")
            #expect(served.subtracting(documented).isEmpty, "served but not in openapi.yaml: \(served.subtracting(documented).sorted())")
            #expect(documented.subtracting(served).isEmpty, "in openapi.yaml but not served: \(documented.subtracting(served).sorted())")
        }
    }

    @Test func theDocumentNamesTheCodesAndValuesTheServerUses() {
        let document = OpenAPIOutline(OpenAPIDocument.yaml)
        let codes = ErrorCode.allCases.map(\.rawValue)
        #expect(document.enumValues(ofSchema: "ErrorCode") == codes)
        let unknown = Set(document.errorCodesOfResponses).subtracting(codes)
        #expect(unknown.isEmpty, "x-error-codes names codes the server does not have: \(unknown.sorted())")
        #expect(document.enumValues(ofSchema: "FailureReason") == FailureReason.allCases.map(\.rawValue))
        #expect(document.enumValues(ofSchema: "EventType") == SubscriptionService.eventTypes)
        #expect(document.enumValues(ofSchema: "DeliveryStatus") == DeliveryStore.statuses)
        #expect(document.webhooks == WebhookEventType.allCases.map(\.rawValue))
    }

    @Test func getOpenAPIYAMLServesTheDocument() async throws {
        let file = try Data(contentsOf: Self.documentURL)
        try await APIHarness.with { api in
            try await api.client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml")
                #expect(Data(response.body.readableBytesView) == file)
            }
        }
    }
}

/// What the tests need of openapi.yaml, read line by line: its formatting is ours (two spaces per
/// level, paths and webhooks at two, methods at four, schemas at four under `components.schemas`),
/// so no YAML parser is needed.
struct OpenAPIOutline {
    /// `METHOD /path` of every operation under `paths`.
    var operations: [String] = []
    /// The names under `webhooks`.
    var webhooks: [String] = []
    /// Every code of every `x-error-codes` list.
    var errorCodesOfResponses: [String] = []
    /// Lines of `paths` that do not have the expected shape.
    var problems: [String] = []
    private var schemas: [String: [Substring]] = [:]

    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    init(_ yaml: String) {
        var section = ""
        var subsection = ""
        var path: String?
        var schema: String?
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let text = line.dropFirst(indent)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if indent == 0 {
                section = String(text)
                continue
            }
            if let codes = text.firstRange(of: "x-error-codes: ") {
                errorCodesOfResponses += Self.flowList(text[codes.upperBound...])
            }
            let key = text.hasSuffix(":") ? String(text.dropLast()) : nil
            switch section {
            case "paths:":
                if indent == 2 {
                    path = key
                    if key?.hasPrefix("/") != true { problems.append(String(line)) }
                } else if indent == 4, let path, let key, Self.methods.contains(key) {
                    operations.append("\(key.uppercased()) \(path)")
                }
            case "webhooks:":
                if indent == 2, let key { webhooks.append(key) }
            case "components:":
                if indent == 2 {
                    subsection = String(text)
                    schema = nil
                } else if subsection == "schemas:", indent == 4 {
                    schema = key
                } else if subsection == "schemas:", let schema {
                    schemas[schema, default: []].append(line)
                }
            default: break
            }
        }
    }

    /// The `enum` of a schema of `components.schemas`, in its order: `enum: [A, B]` or a block list.
    func enumValues(ofSchema name: String) -> [String] {
        guard let lines = schemas[name] else { return [] }
        var values: [String] = []
        var inList = false
        for line in lines {
            let text = line.drop { $0 == " " }
            if text.hasPrefix("enum: ") {
                return Self.flowList(text.dropFirst("enum: ".count))
            } else if text == "enum:" {
                inList = true
            } else if inList, text.hasPrefix("- ") {
                values.append(Self.unquoted(text.dropFirst(2)))
            } else if inList {
                break
            }
        }
        return values
    }

    /// `[a, "b"]` as `["a", "b"]`.
    static func flowList(_ text: Substring) -> [String] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "[] ")).split(separator: ",").map { unquoted($0) }
    }

    static func unquoted(_ text: Substring) -> String {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
    }
}
