import Foundation
import SwaplineApplication

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a host name into the addresses it would be connected to.
public protocol HostResolver: Sendable {
    /// Every address of `host` (never empty on success); an error when it does not resolve.
    func resolve(host: String) async throws -> [IPAddress]
}

/// The system resolver (getaddrinfo), run on a Dispatch thread because it blocks.
public struct SystemHostResolver: HostResolver {
    public init() {}

    public func resolve(host: String) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.lookup(host) })
            }
        }
    }

    struct ResolutionError: Error, CustomStringConvertible {
        var description: String
    }

    static func lookup(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        guard status == 0 else { throw ResolutionError(description: String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(result) }
        var addresses: [IPAddress] = []
        var cursor = result
        while let entry = cursor {
            if let socketAddress = entry.pointee.ai_addr {
                switch entry.pointee.ai_family {
                case AF_INET:
                    let bytes = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                    }
                    if let address = IPAddress(bytes: bytes), !addresses.contains(address) { addresses.append(address) }
                case AF_INET6:
                    let bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    if let address = IPAddress(bytes: bytes), !addresses.contains(address) { addresses.append(address) }
                default: break
                }
            }
            cursor = entry.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw ResolutionError(description: "no IPv4 or IPv6 address") }
        return addresses
    }
}

/// A fixed table of names: for tests (no test may resolve an external name) and pinned setups.
public struct StaticHostResolver: HostResolver {
    public let table: [String: [IPAddress]]

    public init(_ table: [String: [String]]) {
        self.table = table.reduce(into: [:]) { result, entry in
            result[entry.key.lowercased()] = entry.value.map { IPAddress(literal: $0)! }
        }
    }

    public func resolve(host: String) async throws -> [IPAddress] {
        guard let addresses = table[host.lowercased()], !addresses.isEmpty else {
            throw SystemHostResolver.ResolutionError(description: "unknown host \(host)")
        }
        return addresses
    }
}

/// A webhook URL taken apart by `SSRFGuard.parse`.
public struct WebhookTarget: Sendable, Equatable {
    public var scheme: String
    /// Lowercased; an IPv6 literal without its brackets.
    public var host: String
    public var port: Int
    /// The address the host is, when it is an address literal.
    public var literal: IPAddress?
}

/// A webhook URL bound to the address the guard checked.
public struct PinnedURL: Sendable, Equatable {
    public var target: WebhookTarget
    /// The checked address the connection goes to.
    public var address: IPAddress
    /// The URL with the address literal in place of the host name.
    public var requestURL: String
    /// The original host (and port when not the scheme's default) for the `Host` header.
    public var hostHeader: String
}

/// Refuses webhook URLs that could reach Swapline's own network: only http(s), no userinfo, a
/// valid port, and every address the host resolves to must be global — unless it falls in an
/// allow-listed network (`SWAPLINE_WEBHOOK_ALLOWED_NETWORKS`). `check` returns the addresses it
/// checked, so a delivery can connect to exactly those and not resolve the name again.
public struct SSRFGuard: Sendable {
    public let allowedNetworks: [IPNetwork]
    public let resolver: any HostResolver
    public static let maximumURLLength = 2048

    public init(allowedNetworks: [IPNetwork] = [], resolver: any HostResolver = SystemHostResolver()) {
        self.allowedNetworks = allowedNetworks
        self.resolver = resolver
    }

    static func refused(_ message: String) -> SwaplineError { SwaplineError(.webhookURLRefused, "webhook url refused: \(message)") }

    /// Checks the URL and every address of its host; throws error 110 saying why it is refused.
    public func check(_ url: String) async throws(SwaplineError) -> [IPAddress] {
        try await check(Self.parse(url))
    }

    /// Resolves and checks a URL `parse` already took apart.
    func check(_ target: WebhookTarget) async throws(SwaplineError) -> [IPAddress] {
        let addresses: [IPAddress]
        if let literal = target.literal {
            addresses = [literal]
        } else {
            do {
                addresses = try await resolver.resolve(host: target.host)
            } catch {
                throw Self.refused("host \(target.host) does not resolve (\(error))")
            }
            guard !addresses.isEmpty else { throw Self.refused("host \(target.host) has no address") }
        }
        for address in addresses {
            if let reason = refusal(address) {
                let via = target.literal == nil ? "host \(target.host) resolves to \(address), which" : "address \(address)"
                throw Self.refused("\(via) is \(reason); only public addresses are allowed")
            }
        }
        return addresses
    }

    /// Checks the URL like `check` and pins it to the first checked address: the request goes to
    /// that address literal with the original `Host`, so a second resolution (DNS rebinding) can
    /// never take it elsewhere.
    public func pin(_ url: String) async throws(SwaplineError) -> PinnedURL {
        let target = try Self.parse(url)
        let addresses = try await check(target)
        let afterScheme = url[url.range(of: "://")!.upperBound...]
        let authorityEnd = afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
        var pathAndQuery = String(afterScheme[authorityEnd...])
        if let fragment = pathAndQuery.firstIndex(of: "#") { pathAndQuery = String(pathAndQuery[..<fragment]) }
        if !pathAndQuery.hasPrefix("/") { pathAndQuery = "/" + pathAndQuery }
        let hostForm = target.host.contains(":") ? "[\(target.host)]" : target.host
        let defaultPort = target.scheme == "https" ? 443 : 80
        return PinnedURL(
            target: target, address: addresses[0],
            requestURL: "\(target.scheme)://\(addresses[0].urlHost):\(target.port)\(pathAndQuery)",
            hostHeader: target.port == defaultPort ? hostForm : "\(hostForm):\(target.port)")
    }

    /// Why the address may not be called, or nil when it may.
    public func refusal(_ address: IPAddress) -> String? {
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        if let embedded = Self.embeddedIPv4(address), allowedNetworks.contains(where: { $0.contains(embedded) }) { return nil }
        return Self.nonGlobalReason(address)
    }

    /// Splits and checks the URL's syntax without resolving anything.
    public static func parse(_ url: String) throws(SwaplineError) -> WebhookTarget {
        guard !url.isEmpty else { throw refused("url is empty") }
        guard url.utf8.count <= maximumURLLength else { throw refused("url is longer than \(maximumURLLength) bytes") }
        guard url.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else {
            throw refused("url must be printable ASCII without spaces or backslashes (percent-encode the path)")
        }
        guard let colon = url.firstIndex(of: ":") else { throw refused("url has no scheme; use http:// or https://") }
        let scheme = url[..<colon].lowercased()
        guard scheme == "http" || scheme == "https" else { throw refused("scheme \(scheme) is not allowed; use http or https") }
        let rest = url[url.index(after: colon)...]
        guard rest.hasPrefix("//") else { throw refused("url must be \(scheme)://host/…") }
        let afterSlashes = rest.dropFirst(2)
        let authorityEnd = afterSlashes.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterSlashes.endIndex
        let authority = String(afterSlashes[..<authorityEnd])
        guard !authority.contains("@") else { throw refused("url must not contain a user name or password") }
        guard !authority.contains("%") else { throw refused("the host must not be percent-encoded") }
        var host: String
        var portText: String?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw refused("unterminated IPv6 address") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refused("unexpected text after the IPv6 address") }
                portText = String(after.dropFirst())
            }
            guard IPAddress(literal: host) != nil, host.contains(":") else { throw refused("[\(host)] is not an IPv6 address") }
        } else {
            let pieces = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw refused("the host has more than one ':'; put an IPv6 address in brackets") }
            host = String(pieces[0])
            if pieces.count == 2 { portText = String(pieces[1]) }
        }
        host = host.lowercased()
        if host.hasSuffix(".") && !host.hasPrefix("[") { host.removeLast() }
        guard !host.isEmpty else { throw refused("url has no host") }
        var port = scheme == "https" ? 443 : 80
        if let portText {
            guard !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = Int(portText), (1...65535).contains(number)
            else { throw refused("port must be 1 to 65535") }
            port = number
        }
        if let literal = IPAddress(literal: host) {
            return WebhookTarget(scheme: scheme, host: host, port: port, literal: literal)
        }
        // Numeric forms a resolver or a browser would read as IPv4 (`127.1`, `0x7f000001`, `2130706433`).
        if let numeric = IPAddress.lenientIPv4(host) {
            return WebhookTarget(scheme: scheme, host: host, port: port, literal: numeric)
        }
        let isNameCharacter: (UInt8) -> Bool = { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_")
        }
        guard host.utf8.count <= 253, host.utf8.allSatisfy(isNameCharacter),
            host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({ !$0.isEmpty && $0.utf8.count <= 63 })
        else { throw refused("\(host) is not a valid host name (use punycode for international names)") }
        guard host != "localhost", !host.hasSuffix(".localhost") else { throw refused("localhost is a loopback name") }
        return WebhookTarget(scheme: scheme, host: host, port: port, literal: nil)
    }

    /// The IPv4 address an IPv6 address carries and is judged by: IPv4-mapped `::ffff:a.b.c.d`,
    /// IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`
    /// and 6to4 `2002:aabb:ccdd::`.
    public static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        let b = address.bytes
        guard b.count == 16 else { return nil }
        let last4 = Array(b[12..<16])
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return IPAddress(bytes: last4) }
        if b[0..<8].allSatisfy({ $0 == 0 }) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0 { return IPAddress(bytes: last4) }
        // `::` and `::1` are IPv6's own unspecified and loopback addresses, not compatible forms.
        if b[0..<12].allSatisfy({ $0 == 0 }) && !(b[12] == 0 && b[13] == 0 && b[14] == 0 && b[15] <= 1) { return IPAddress(bytes: last4) }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) { return IPAddress(bytes: last4) }
        if b[0] == 0x20 && b[1] == 0x02 { return IPAddress(bytes: Array(b[2..<6])) }
        return nil
    }

    static let refusedIPv4: [(IPNetwork, String)] = [
        ("0.0.0.0/8", "a \"this network\" address"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (shared)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives here)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments"),
        ("192.0.2.0/24", "documentation (TEST-NET-1)"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation (TEST-NET-2)"),
        ("203.0.113.0/24", "documentation (TEST-NET-3)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (and broadcast)"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    static let refusedIPv6: [(IPNetwork, String)] = [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("100::/64", "discard-only"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("2001::/23", "reserved for IETF protocol assignments (Teredo, benchmarking, ORCHID)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }
    static let globalUnicastIPv6 = IPNetwork("2000::/3")!

    /// Why the address is not global, ignoring the allow-list; nil for a global address.
    public static func nonGlobalReason(_ address: IPAddress) -> String? {
        if address.isIPv4 {
            return refusedIPv4.first { $0.0.contains(address) }?.1
        }
        if let embedded = embeddedIPv4(address) {
            guard let reason = nonGlobalReason(embedded) else { return nil }
            return "an IPv6 form of \(embedded), which is \(reason)"
        }
        if let reason = refusedIPv6.first(where: { $0.0.contains(address) })?.1 { return reason }
        guard globalUnicastIPv6.contains(address) else { return "outside IPv6 global unicast (2000::/3)" }
        return nil
    }
}
