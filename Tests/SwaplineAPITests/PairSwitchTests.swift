import Foundation
import SwaplineApplication
import SwaplineDomain
import SwaplineTestSupport
import Testing

/// The kill switch: `swapline market disable` switches a pair off on a serving node at once,
/// without a restart, and `enable` switches it back on.
@Suite("Pair kill switch", .enabled(if: SwaplineExecutable.isBuilt))
struct PairSwitchTests {
    @Test func aPairSwitchedOffFromTheCommandLineIsRefusedAtOnceAndComesBack() async throws {
        try await TestDatabase.with { database in
            let secrets = try SecretBox(base64MasterKey: SwaplineExecutable.masterKey)
            let accounts = AccountService(client: database.app, secrets: secrets, market: .defaults, logger: database.logger)
            let issued = try await accounts.create(name: "kill switch")
            let port = try ShutdownTests.freePort()
            let base = "http://127.0.0.1:\(port)"
            let server = try SwaplineExecutable.launch(["serve", "--api", "--port", String(port)], database: database)
            defer { if server.isRunning { server.terminate() } }
            _ = try await eventually("the server ready") { await ShutdownTests.get(base + "/ready")?.0 == 200 ? true : nil }
            let clock = KeyRevocationTests.Clock()
            @Sendable func quote() async -> (Int, String)? {
                await ShutdownTests.call(
                    base, "/api/v1/exchange/pre-calculate", account: issued.account.rawValue, key: issued.key, secret: issued.secret,
                    payload: #"{"sourceCurrency": "USDT_TRX", "destinationCurrency": "BTC", "amount": 100}"#, timestamp: clock.next())
            }
            #expect(await quote()?.0 == 200)

            let off = try SwaplineExecutable.run(["market", "disable", "USDT_TRX/BTC", "--reason", "venue incident"], database: database)
            #expect(off.status == 0, "\(off.errors)")
            #expect(off.output.contains("USDT_TRX/BTC switched off"))
            let refusal = try await eventually("the pair refused", within: 10) {
                guard let (status, body) = await quote(), status != 200 else { return nil as String? }
                return body
            }
            #expect(refusal.contains(#""errorCode":"100""#), "\(refusal)")
            let listed = try SwaplineExecutable.run(["market", "switches"], database: database)
            #expect(listed.output.contains("USDT_TRX/BTC") && listed.output.contains("venue incident"), "\(listed.output)")
            #expect(try SwaplineExecutable.run(["market", "disable", "NOPE/BTC"], database: database).status != 0, "an unknown pair is refused")

            let on = try SwaplineExecutable.run(["market", "enable", "USDT_TRX/BTC"], database: database)
            #expect(on.status == 0, "\(on.errors)")
            _ = try await eventually("the pair served again", within: 10) { await quote()?.0 == 200 ? true : nil }
        }
    }

    @Test func switchesApplyOverTheConfiguredMarket() async throws {
        try await TestDatabase.with { database in
            let pair = CurrencyPair(Currency("USDT_TRX"), Currency("BTC"))
            let switches = PairSwitches()
            #expect(try await PairSwitches.set(pair, enabled: false, reason: "test", client: database.owner, logger: database.logger))
            #expect(try await !PairSwitches.set(pair, enabled: false, reason: "again", client: database.owner, logger: database.logger))
            try await switches.reload(client: database.app, logger: database.logger)
            #expect(switches.applied(to: .defaults).pairs[pair]?.isEnabled == false)
            #expect(switches.applied(to: .defaults).pairs.values.filter { !$0.isEnabled }.count == 1, "only that pair")
            #expect(try await PairSwitches.set(pair, enabled: true, reason: "", client: database.owner, logger: database.logger))
            try await switches.reload(client: database.app, logger: database.logger)
            #expect(switches.applied(to: .defaults).pairs[pair]?.isEnabled == true)
        }
    }
}
