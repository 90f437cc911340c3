import HTTPTypes
import Hummingbird
import SwaplineApplication

/// Answers a request whose path exists but does not take its method with 405, an `Allow` header
/// naming the methods the path takes, and Calypso's error body (code `004`), as RFC 9110 asks. A
/// path that does not exist is left to the not-found answer (404, `004`).
///
/// `buildRouter` adds it after every route: Hummingbird applies a router middleware only to the
/// routes added after it, and builds its not-found responder with all of them, so this runs for
/// requests that matched no route and costs the routed ones nothing.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each served path and its methods, as the `Allow` header writes them (`DELETE, POST`).
    let allowedMethods: [String: String]

    init(routes: [Router<Context>.RouteDescription]) {
        var methods: [String: Set<String>] = [:]
        for route in routes {
            methods[route.path.description, default: []].insert(route.method.rawValue)
        }
        allowedMethods = methods.mapValues { $0.sorted().joined(separator: ", ") }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var path = request.uri.path
        if path.count > 1, path.hasSuffix("/") {
            path.removeLast()
        }
        guard let allow = allowedMethods[path] else {
            return try await next(request, context)
        }
        var response = CalypsoErrorMiddleware<Context>.response(
            SwaplineError(.notFound, "\(path) does not take \(request.method.rawValue); it takes \(allow)", httpStatus: 405))
        response.headers[.allow] = allow
        return response
    }
}
