import Crypto
import Foundation

/// Encrypts secrets at rest (API secrets, webhook secrets) with AES-GCM under the master key.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(masterKey: SymmetricKey) {
        self.key = masterKey
    }

    /// Parses `SWAPLINE_MASTER_KEY`: base64 of exactly 32 bytes.
    public init(base64MasterKey text: String) throws(SwaplineConfigurationError) {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32 else {
            throw SwaplineConfigurationError(key: "SWAPLINE_MASTER_KEY", message: "must be base64 of exactly 32 bytes")
        }
        self.key = SymmetricKey(data: data)
    }

    public static func generateMasterKey() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
    }

    public func seal(_ plaintext: String) throws -> [UInt8] {
        guard let combined = try AES.GCM.seal(Data(plaintext.utf8), using: key).combined else {
            throw SecretBoxError.sealFailed
        }
        return [UInt8](combined)
    }

    public func open(_ ciphertext: [UInt8]) throws -> String {
        let box = try AES.GCM.SealedBox(combined: Data(ciphertext))
        let plaintext = try AES.GCM.open(box, using: key)
        return String(decoding: plaintext, as: UTF8.self)
    }
}

public enum SecretBoxError: Error {
    case sealFailed
}

/// Random identifiers and credentials, in the shapes Calypso uses.
public enum Credentials {
    /// `0x` + 40 lowercase hex characters.
    public static func newAccountID() -> String { "0x" + randomHex(bytes: 20) }
    /// 32 hex characters, like Calypso's published key.
    public static func newAPIKey() -> String { randomHex(bytes: 16) }
    public static func newAPISecret() -> String { randomHex(bytes: 16) }

    public static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
