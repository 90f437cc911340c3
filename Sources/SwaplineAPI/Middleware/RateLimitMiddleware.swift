import HTTPTypes
import Hummingbird
import SwaplineApplication

/// Refuses a signed request whose `Key` has used up its bucket with 429, code `111` and a
/// `Retry-After` in whole seconds, before its body is read, its signature checked or the database
/// asked. Mounted on the signed `/api/v1/` routes only. A request without a `Key` (or with one too
/// long to be a key) or without a `Sign` passes and takes no token: the authenticator refuses it
/// with `002` or `003` without any database work, and a malformed request should hear what is
/// wrong with it rather than "retry later".
struct RateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limiter: KeyRateLimiter

    static var keyField: HTTPField.Name { HTTPField.Name("Key")! }
    static var signField: HTTPField.Name { HTTPField.Name("Sign")! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = request.headers[Self.keyField], !key.isEmpty, key.utf8.count <= 128,
            let sign = request.headers[Self.signField], !sign.isEmpty
        else {
            return try await next(request, context)
        }
        switch limiter.acquire(key: key) {
        case .allowed:
            return try await next(request, context)
        case .refused(let retryAfter):
            var response = CalypsoErrorMiddleware<Context>.response(
                SwaplineError(
                    .rateLimitExceeded,
                    "rate limit exceeded: at most \(Self.format(limiter.ratePerSecond)) requests a second per key (bursts of \(Int(limiter.burst))) on this node; retry after \(retryAfter) s, re-signed with a fresh timestamp"
                ))
            response.headers[.retryAfter] = String(retryAfter)
            return response
        }
    }

    static func format(_ rate: Double) -> String {
        rate == rate.rounded() && rate < 1e15 ? String(Int(rate)) : String(rate)
    }
}
