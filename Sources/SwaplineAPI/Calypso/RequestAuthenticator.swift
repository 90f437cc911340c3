import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwaplineApplication
import SwaplineDomain

/// A request whose `Key`, `Sign`, timestamp and freshness were checked.
struct SignedRequest {
    var account: AccountID
    var key: String
    var payload: Payload
    var requestId: String
}

/// Calypso's request authentication: `Key` names the account's API key, `Sign` is the hex
/// HMAC-SHA512 of the exact body with its secret, the body's `timestamp` (ms) is within three
/// minutes of server time, and a key and signature seen before inside that window is a replay.
struct RequestAuthenticator: Sendable {
    let accounts: AccountService
    let now: @Sendable () -> Date
    let maximumBodyBytes: Int
    static let timestampWindowMilliseconds: Int64 = 3 * 60 * 1000

    func authenticate(_ request: Request) async throws -> SignedRequest {
        let (signed, seen) = try await authenticateUnrecorded(request)
        try await record(seen)
        return signed
    }

    /// The replay guard's record of a request; a replay is refused (106).
    func record(_ seen: AccountService.SeenRequest) async throws {
        guard try await accounts.record(seen) else { throw SwaplineError.replayed }
    }

    /// Every check but the replay guard's: the caller records `seen` itself, in a statement of
    /// its own work (exchange/get, with its read), and refuses the request if it was seen before.
    /// Only for requests that change nothing until that answer is in.
    func authenticateUnrecorded(_ request: Request) async throws -> (SignedRequest, AccountService.SeenRequest) {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maximumBodyBytes)
        } catch {
            throw SwaplineError(.badRequest, "request body is larger than \(maximumBodyBytes) bytes", httpStatus: 413)
        }
        let bytes = Array(body.readableBytesView)
        guard let key = request.headers[HTTPField.Name("Key")!], !key.isEmpty else {
            throw SwaplineError(.invalidAPIKey, "the Key header is missing")
        }
        guard let sign = request.headers[HTTPField.Name("Sign")!], !sign.isEmpty else {
            throw SwaplineError(.wrongSign, "the Sign header is missing")
        }
        guard key.utf8.count <= 128, let record = try await accounts.activeKey(key) else {
            throw SwaplineError(.invalidAPIKey, "invalid api key")
        }
        guard CalypsoSignature.isValid(signature: sign, body: bytes, secret: record.secret) else {
            throw SwaplineError(.wrongSign, "wrong sign: expected hex HMAC-SHA512 of the exact body with the key's secret")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw SwaplineError.badRequest(error.description)
        }
        guard case .object = document else { throw SwaplineError.badRequest("the body must be a JSON object") }
        guard case .number(let timestampText)? = document["timestamp"] else {
            throw SwaplineError.badRequest("timestamp is required: milliseconds since 1970 (UTC), as an integer")
        }
        guard let timestamp = Int64(timestampText) else {
            throw SwaplineError.badRequest("timestamp must be an integer number of milliseconds")
        }
        let serverTime = Int64((now().timeIntervalSince1970 * 1000).rounded())
        guard abs(serverTime - timestamp) <= Self.timestampWindowMilliseconds else {
            throw SwaplineError(.invalidTimestamp, "timestamp is more than 3 minutes away from server time \(serverTime)")
        }
        switch document["account"] {
        case .string(let text)?:
            guard AccountID(text) == record.account else {
                throw SwaplineError(.invalidAPIKey, "the api key does not belong to account \(text)")
            }
        case nil, .null?:
            throw SwaplineError.badRequest("account is required")
        case let other?:
            throw SwaplineError.badRequest("account must be a string, got \(other.kindDescription)")
        }
        let payload = try Payload(document["payload"])
        return (
            SignedRequest(account: record.account, key: key, payload: payload, requestId: UUID().uuidString.lowercased()),
            AccountService.SeenRequest(key: key, signature: sign.lowercased())
        )
    }
}
