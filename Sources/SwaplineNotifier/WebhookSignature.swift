import Crypto
import Foundation
import SwaplineApplication

/// The secrets a delivery is signed with: the current ones, and during a rotation overlap the
/// Standard Webhooks secret they replaced.
public struct SigningSecrets: Sendable, Equatable {
    public var publicKey: String
    /// Calypso's `Sign` key (its ASCII text is the HMAC key).
    public var secretKey: String
    /// `whsec_` + base64.
    public var webhookSecret: String
    /// The replaced `whsec_` secret while the overlap lasts.
    public var previousWebhookSecret: String?

    public init(publicKey: String, secretKey: String, webhookSecret: String, previousWebhookSecret: String? = nil) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.webhookSecret = webhookSecret
        self.previousWebhookSecret = previousWebhookSecret
    }
}

/// How a receiver knows a webhook is Swapline's: Calypso's `Key` and `Sign` (hex HMAC-SHA512 of
/// the body) and Standard Webhooks' `webhook-id`, `webhook-timestamp` and `webhook-signature`
/// (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body`), both over the exact bytes sent.
public enum WebhookSignature {
    /// One Standard Webhooks signature, or nil when the secret is not `whsec_` + base64.
    public static func standard(webhookId: String, timestamp: Int64, body: [UInt8], secret: String) -> String? {
        guard let key = standardKey(secret) else { return nil }
        var message = Array("\(webhookId).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }

    /// Whether `header` (space-separated `v1,…` signatures) holds a valid signature under `secret`.
    public static func verifyStandard(header: String, webhookId: String, timestamp: Int64, body: [UInt8], secret: String) -> Bool {
        guard let key = standardKey(secret) else { return false }
        var message = Array("\(webhookId).\(timestamp).".utf8)
        message.append(contentsOf: body)
        for candidate in header.split(separator: " ") where candidate.hasPrefix("v1,") {
            if let mac = Data(base64Encoded: String(candidate.dropFirst(3))),
                HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: key)
            {
                return true
            }
        }
        return false
    }

    static func standardKey(_ secret: String) -> SymmetricKey? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        guard let bytes = Data(base64Encoded: encoded), !bytes.isEmpty else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// Every signing header of one attempt. The timestamp is the attempt's, so a retry is signed
    /// afresh; the id is the delivery's, the same on every retry.
    public static func headers(webhookId: String, timestamp: Int64, body: [UInt8], secrets: SigningSecrets) -> [(String, String)] {
        var signatures: [String] = []
        for secret in [secrets.webhookSecret, secrets.previousWebhookSecret].compactMap({ $0 }) {
            if let signature = standard(webhookId: webhookId, timestamp: timestamp, body: body, secret: secret) {
                signatures.append(signature)
            }
        }
        return [
            ("Key", secrets.publicKey),
            ("Sign", CalypsoSignature.sign(body: body, secret: secrets.secretKey)),
            ("webhook-id", webhookId),
            ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", signatures.joined(separator: " ")),
        ]
    }
}
