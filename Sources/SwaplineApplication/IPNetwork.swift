#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as its network-order bytes (4 or 16).
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// Parses a strict address literal: a dotted quad (`192.0.2.1`) or an IPv6 text form
    /// (`::ffff:127.0.0.1`, `fe80::1`), with or without brackets. Zone ids (`%eth0`) are refused.
    public init?(literal text: String) {
        var text = text
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        guard !text.isEmpty, text.utf8.count <= 64, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        if text.contains(":") {
            var buffer = [UInt8](repeating: 0, count: 16)
            guard inet_pton(AF_INET6, text, &buffer) == 1 else { return nil }
            self.bytes = buffer
        } else {
            var buffer = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, text, &buffer) == 1 else { return nil }
            self.bytes = buffer
        }
    }

    /// The address a lenient IPv4 parser (inet_aton, and so getaddrinfo and browsers) makes of
    /// a numeric host such as `127.1`, `0x7f.0.0.1` or `2130706433`; nil for anything else.
    public static func lenientIPv4(_ text: String) -> IPAddress? {
        guard !text.isEmpty, text.utf8.count <= 64,
            text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x78 || $0 == 0x58 || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) })
        else { return nil }
        var address = in_addr()
        guard inet_aton(text, &address) != 0 else { return nil }
        let value = UInt32(bigEndian: address.s_addr)
        return IPAddress(bytes: [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)])
    }

    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var buffer = [CChar](repeating: 0, count: 64)
        var input = bytes
        guard inet_ntop(AF_INET6, &input, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The text to put in a URL: IPv6 in brackets.
    public var urlHost: String { isIPv4 ? description : "[\(description)]" }
}

/// A CIDR block such as `127.0.0.0/8` or `::1/128` (a bare address is its own /32 or /128).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.trimmingWhitespace().split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let address = IPAddress(literal: String(parts[0])) else { return nil }
        let maximum = address.bytes.count * 8
        var length = maximum
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let parsed = Int(parts[1]), parsed <= maximum
            else { return nil }
            length = parsed
        }
        self.init(address: address, prefixLength: length)
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.prefixLength = max(0, min(prefixLength, address.bytes.count * 8))
        // Keep the network's own bits only, so `10.1.2.3/8` is `10.0.0.0/8`.
        var bytes = address.bytes
        for index in bytes.indices {
            let bitsHere = max(0, min(8, self.prefixLength - index * 8))
            bytes[index] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bitsHere))
        }
        self.address = IPAddress(bytes: bytes)!
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for index in address.bytes.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if candidate.bytes[index] & mask != address.bytes[index] { return false }
            remaining -= bits
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// A comma-separated list of CIDRs; an entry that is not one is an error naming `key`.
    public static func parseList(_ text: String, key: String) throws(SwaplineConfigurationError) -> [IPNetwork] {
        var networks: [IPNetwork] = []
        for entry in text.split(separator: ",") {
            let trimmed = String(entry).trimmingWhitespace()
            if trimmed.isEmpty { continue }
            guard let network = IPNetwork(trimmed) else {
                throw SwaplineConfigurationError(key: key, message: "has \"\(trimmed)\", which is not a CIDR such as 127.0.0.0/8 or ::1/128")
            }
            networks.append(network)
        }
        return networks
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
