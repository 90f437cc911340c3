import SwaplineApplication
import SwaplineNotifier
import Testing

/// The guard's answer for a URL: the error it throws, or nil when it lets the URL through.
/// Hostnames go to a stub resolver only: no test resolves an external name or sends a packet.
func refusal(_ url: String, guard ssrfGuard: SSRFGuard = SSRFGuard(resolver: StaticHostResolver([:]))) async -> SwaplineError? {
    do {
        _ = try await ssrfGuard.check(url)
        return nil
    } catch {
        return error
    }
}

func address(_ text: String) -> IPAddress { IPAddress(literal: text)! }

@Suite("SSRF guard")
struct SSRFGuardTests {
    static let nonGlobalIPv4 = [
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.255.254",
        "169.254.0.1", "169.254.169.254", "172.16.0.1", "172.31.255.254", "192.0.0.1", "192.0.0.170", "192.0.2.1", "192.168.0.1",
        "192.168.255.254", "198.18.0.1", "198.19.255.254", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250",
        "240.0.0.1", "255.255.255.254", "255.255.255.255",
    ]

    static let globalIPv4 = [
        "1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.1", "100.63.255.255", "100.128.0.1", "126.255.255.255", "128.0.0.1",
        "169.253.255.255", "169.255.0.1", "172.15.255.255", "172.32.0.1", "192.0.1.1", "192.0.3.1", "192.167.255.255",
        "192.169.0.1", "198.17.255.255", "198.20.0.1", "198.51.101.1", "203.0.114.1", "223.255.255.255",
    ]

    static let nonGlobalIPv6 = [
        "::", "::1", "fc00::1", "fd12:3456:789a::1", "fe80::1", "febf:ffff::1", "ff02::1", "ff0e::1", "2001:db8::1",
        "2001:db8:ffff:ffff::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
        "::ffff:0.0.0.0", "::127.0.0.1", "::10.0.0.1", "::192.168.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a00:1",
        "64:ff9b::169.254.169.254", "64:ff9b:1::1", "::ffff:0:127.0.0.1", "2002:7f00:1::1", "2002:c0a8:101::1", "100::1",
        "2001::1", "fec0::1", "3fff::1", "4000::1",
    ]

    static let globalIPv6 = [
        "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1", "::ffff:8.8.8.8", "::8.8.8.8",
        "64:ff9b::8.8.8.8", "2002:808:808::1", "2001:db9::1",
    ]

    @Test(arguments: nonGlobalIPv4 + nonGlobalIPv6)
    func refusesNonGlobalAddresses(_ text: String) async {
        let parsed = IPAddress(literal: text)
        #expect(parsed != nil, "\(text) parses")
        guard let parsed else { return }
        let reason = SSRFGuard.nonGlobalReason(parsed)
        #expect(reason != nil, "\(text) is not global")
        let url = parsed.isIPv4 ? "http://\(text)/hook" : "http://[\(text)]/hook"
        let error = await refusal(url)
        #expect(error?.code == .webhookURLRefused, "\(url) is refused")
    }

    @Test(arguments: globalIPv4 + globalIPv6)
    func acceptsGlobalAddresses(_ text: String) async {
        let parsed = IPAddress(literal: text)
        #expect(parsed != nil, "\(text) parses")
        guard let parsed else { return }
        let reason = SSRFGuard.nonGlobalReason(parsed)
        #expect(reason == nil, "\(text) is global")
        let url = parsed.isIPv4 ? "https://\(text):8443/hook" : "https://[\(text)]:8443/hook"
        let error = await refusal(url)
        #expect(error == nil, "\(url) is accepted")
    }

    @Test func theIssuesExamplesAreRefused() async {
        for url in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[::ffff:127.0.0.1]/", "http://[::1]/", "http://127.0.0.1:8080/x"] {
            let error = await refusal(url)
            #expect(error?.code == .webhookURLRefused, "\(url)")
        }
    }

    @Test func mappedAndNAT64FormsAreJudgedByTheirIPv4() {
        let mapped = SSRFGuard.embeddedIPv4(address("::ffff:127.0.0.1"))
        #expect(mapped == address("127.0.0.1"))
        let compatible = SSRFGuard.embeddedIPv4(address("::10.1.2.3"))
        #expect(compatible == address("10.1.2.3"))
        let nat64 = SSRFGuard.embeddedIPv4(address("64:ff9b::c0a8:0101"))
        #expect(nat64 == address("192.168.1.1"))
        let loopback = SSRFGuard.embeddedIPv4(address("::1"))
        #expect(loopback == nil)
        let reason = SSRFGuard.nonGlobalReason(address("::ffff:169.254.169.254"))
        #expect(reason?.contains("link-local") == true)
    }

    @Test func numericHostsAreReadAsTheIPv4TheyMean() async {
        for url in ["http://127.1/", "http://2130706433/", "http://0x7f000001/", "http://0x7f.0.0.1/", "http://017700000001/", "http://10.1/"] {
            let error = await refusal(url)
            #expect(error?.code == .webhookURLRefused, "\(url)")
        }
    }

    @Test func badSchemesUserinfoPortsAndHostsAreRefused() async {
        let urls = [
            "ftp://example.com/", "file:///etc/passwd", "javascript:alert(1)", "gopher://hooks.merchant.test/", "hooks.merchant.test/x",
            "http://user:pass@hooks.merchant.test/", "http://user@hooks.merchant.test/", "http://hooks.merchant.test@127.0.0.1/",
            "http://hooks.merchant.test:0/", "http://hooks.merchant.test:65536/", "http://hooks.merchant.test:-1/",
            "http://hooks.merchant.test:80:80/", "http:///path", "http://", "http:hooks.merchant.test", "", "http://hooks merchant.test/",
            "http://hooks.merchant.test\\@127.0.0.1/", "http://%31%32%37.0.0.1/", "http://[fe80::1%25eth0]/", "http://[::1/",
            "http://localhost/", "http://api.localhost:8080/", "http://exa_mple..test/", "http://[1.2.3.4]/",
        ]
        let ssrfGuard = SSRFGuard(resolver: StaticHostResolver(["hooks.merchant.test": ["93.184.215.14"]]))
        for url in urls {
            let error = await refusal(url, guard: ssrfGuard)
            #expect(error?.code == .webhookURLRefused, "\(url) is refused")
        }
        let accepted = await refusal("https://Hooks.Merchant.Test:443/swapline?x=1#f", guard: ssrfGuard)
        #expect(accepted == nil)
    }

    @Test func aHostnameIsJudgedByWhatItResolvesTo() async throws {
        let resolver = StaticHostResolver([
            "rebind.merchant.test": ["127.0.0.1"],
            "mixed.merchant.test": ["93.184.215.14", "10.0.0.7"],
            "mixed6.merchant.test": ["2606:4700:4700::1111", "fd00::1"],
            "public.merchant.test": ["93.184.215.14", "2606:4700:4700::1111"],
        ])
        let strict = SSRFGuard(resolver: resolver)
        let loopback = await refusal("http://rebind.merchant.test/", guard: strict)
        #expect(loopback?.code == .webhookURLRefused)
        #expect(loopback?.message.contains("127.0.0.1") == true)
        let mixed = await refusal("http://mixed.merchant.test/", guard: strict)
        #expect(mixed?.code == .webhookURLRefused)
        let mixed6 = await refusal("http://mixed6.merchant.test/", guard: strict)
        #expect(mixed6?.code == .webhookURLRefused)
        let unknown = await refusal("http://unknown.merchant.test/", guard: strict)
        #expect(unknown?.code == .webhookURLRefused)
        let addresses = try await strict.check("https://public.merchant.test/hook")
        #expect(addresses == [address("93.184.215.14"), address("2606:4700:4700::1111")])

        let local = SSRFGuard(allowedNetworks: [IPNetwork("127.0.0.0/8")!], resolver: resolver)
        let allowed = try await local.check("http://rebind.merchant.test:9000/")
        #expect(allowed == [address("127.0.0.1")])
        let mappedAllowed = await refusal("http://[::ffff:127.0.0.1]/", guard: local)
        #expect(mappedAllowed == nil)
        let stillRefused = await refusal("http://mixed.merchant.test/", guard: local)
        #expect(stillRefused?.code == .webhookURLRefused)
        let metadata = await refusal("http://169.254.169.254/", guard: local)
        #expect(metadata?.code == .webhookURLRefused)
    }

    @Test func networksParseAndMatch() throws {
        let network = try #require(IPNetwork("10.1.2.3/8"))
        #expect(network.description == "10.0.0.0/8")
        #expect(network.contains(address("10.200.0.1")))
        #expect(!network.contains(address("11.0.0.1")))
        #expect(!network.contains(address("::ffff:10.0.0.1")))
        let v6 = try #require(IPNetwork("fd00::/8"))
        #expect(v6.contains(address("fd12::1")))
        let host = try #require(IPNetwork("::1"))
        #expect(host.prefixLength == 128)
        for bad in ["", "10.0.0.0/33", "::/129", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1", "example.com/8", "10.0.0.0/8/8", "fe80::1%eth0/64"] {
            let parsed = IPNetwork(bad)
            #expect(parsed == nil, "\(bad) is not a CIDR")
        }
        let list = try IPNetwork.parseList(" 127.0.0.0/8, ::1/128 ,", key: "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS")
        #expect(list.count == 2)
        var message = ""
        do {
            _ = try IPNetwork.parseList("127.0.0.0/8,nonsense", key: "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS")
        } catch {
            message = error.description
        }
        #expect(message.contains("SWAPLINE_WEBHOOK_ALLOWED_NETWORKS"))
        #expect(message.contains("nonsense"))
    }

    @Test func settingsReadTheAllowList() async throws {
        let environment = ["SWAPLINE_MASTER_KEY": SecretBox.generateMasterKey(), "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128"]
        let settings = try SwaplineSettings.load(from: try await SwaplineSettings.makeReader(environment: environment))
        #expect(settings.webhookAllowedNetworks == [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!])
        let empty = try SwaplineSettings.load(from: try await SwaplineSettings.makeReader(environment: ["SWAPLINE_MASTER_KEY": SecretBox.generateMasterKey()]))
        #expect(empty.webhookAllowedNetworks.isEmpty)
        var failure: SwaplineConfigurationError?
        do {
            _ = try SwaplineSettings.load(
                from: try await SwaplineSettings.makeReader(environment: [
                    "SWAPLINE_MASTER_KEY": SecretBox.generateMasterKey(), "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS": "10.0.0.0/40",
                ]))
        } catch let error as SwaplineConfigurationError {
            failure = error
        }
        #expect(failure?.key == "SWAPLINE_WEBHOOK_ALLOWED_NETWORKS")
    }
}
