import Crypto
import Foundation

/// Calypso's request signature: lowercase hex of HMAC-SHA512 over the exact body bytes, keyed
/// with the ASCII text of the secret.
public enum CalypsoSignature {
    public static func sign(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA512>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return hex(mac)
    }

    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase hex; `String(format: "%02x")` per byte cost a Foundation format call each (seen in a profile).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(128)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Compares in constant time so the signature cannot be guessed byte by byte.
    public static func isValid(signature: String, body: some DataProtocol, secret: String) -> Bool {
        guard let given = hexBytes(signature.lowercased()) else { return false }
        return HMAC<SHA512>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: Data(secret.utf8)))
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 128 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
