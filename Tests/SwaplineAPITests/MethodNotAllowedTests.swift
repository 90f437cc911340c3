import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwaplineApplication
import SwaplineTestSupport
import Testing

@Suite("A method a path does not take is 405 with Allow")
struct MethodNotAllowedTests {
    /// Found by `scripts/contract-test` (schemathesis' unsupported_method check): `TRACE` on a served
    /// path answered 404, as if the path did not exist, with no `Allow` header.
    @Test func aServedPathWithAnotherMethodIs405NamingTheMethodsItTakes() async throws {
        try await APIHarness.with { api in
            let cases: [(String, HTTPRequest.Method, String)] = [
                ("/api/v1/account", .trace, "POST"),
                ("/api/v1/exchange/create", .get, "POST"),
                ("/api/v1/subscription/webhook", .put, "DELETE, POST"),
                ("/health", .post, "GET"),
                ("/openapi.yaml", .delete, "GET"),
            ]
            for (path, method, allow) in cases {
                try await api.client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                    #expect(response.headers[.contentType] == "application/json")
                    let body = try JSONParser.parse(Array(response.body.readableBytesView))
                    #expect(body["errorCode"] == .string("004"), "\(method) \(path)")
                }
            }
        }
    }

    @Test func anUnknownPathIsStill404() async throws {
        try await APIHarness.with { api in
            for (path, method) in [("/api/v1/nothing", HTTPRequest.Method.post), ("/nothing", .trace)] {
                try await api.client.execute(uri: path, method: method) { response in
                    #expect(response.status == .notFound, "\(method) \(path)")
                    #expect(response.headers[.allow] == nil)
                    let body = try JSONParser.parse(Array(response.body.readableBytesView))
                    #expect(body["errorCode"] == .string("004"))
                }
            }
        }
    }
}
