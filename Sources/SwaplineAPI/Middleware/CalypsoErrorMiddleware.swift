import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import SwaplineApplication

/// Turns every error into Calypso's error body, so a client never sees an empty or HTML error:
/// business and input errors keep their code, a lost database is 503 (112), anything else 500 (000).
struct CalypsoErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as SwaplineError {
            // A 5xx the service chose (busy account, lost venue): worth a line with the request id.
            if error.httpStatus >= 500 {
                context.logger.warning("request failed", metadata: ["status": "\(error.httpStatus)", "error": "\(error)"])
            }
            return Self.response(error)
        } catch let error as HTTPError {
            switch error.status {
            case .notFound, .methodNotAllowed:
                return Self.response(SwaplineError(.notFound, "no method \(request.method) \(request.uri.path)", httpStatus: Int(error.status.code)))
            case .contentTooLarge:
                return Self.response(SwaplineError(.badRequest, "request body is too large", httpStatus: 413))
            default:
                if error.status.code < 500 {
                    return Self.response(SwaplineError(.badRequest, error.body ?? "bad request", httpStatus: Int(error.status.code)))
                }
                context.logger.error("request failed", metadata: ["error": "\(error)"])
                return Self.response(SwaplineError(.internalError, "internal error"))
            }
        } catch let error as PSQLError where Self.isConnectionLoss(error) {
            context.logger.warning("database unavailable", metadata: ["error": "\(error.code)"])
            return Self.response(SwaplineError(.serviceUnavailable, "database unavailable; try again shortly"))
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            return Self.response(SwaplineError(.internalError, "internal error"))
        }
    }

    static func isConnectionLoss(_ error: PSQLError) -> Bool {
        [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed].contains(error.code)
    }

    static func response(_ error: SwaplineError) -> Response {
        Response.json(Render.error(error), status: HTTPResponse.Status(code: error.httpStatus))
    }
}

extension Response {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized()))
        )
    }
}
