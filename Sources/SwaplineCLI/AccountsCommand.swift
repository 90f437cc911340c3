import ArgumentParser
import Foundation
import PostgresNIO
import SwaplineAPI
import SwaplineApplication
import SwaplineDomain

struct AccountsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts",
        abstract: "Administer merchant accounts: create, fund, inspect, manage API keys.",
        subcommands: [Create.self, Deposit.self, Withdraw.self, Show.self, Keys.self, Demo.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open an account and issue its first API key.")
        @Option(help: "The account's name.") var name: String
        @Flag(help: "Print JSON: {\"account\", \"key\", \"secret\"}.") var json = false

        func run() async throws {
            let issued = try await AccountsCommand.withAccounts { try await $0.create(name: name) }
            AccountsCommand.printCredentials(issued, json: json)
        }
    }

    struct Deposit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Credit an account.")
        @Option(help: "Account id (0x…).") var account: String
        @Option(help: "Currency code, e.g. USDT_TRX.") var currency: String
        @Option(help: "Amount, a plain decimal at the currency's scale.") var amount: String
        @Flag(help: "Print the account as JSON.") var json = false

        func run() async throws {
            let id = try AccountsCommand.accountID(account)
            let state = try await AccountsCommand.withAccounts {
                try await $0.deposit(account: id, currency: Currency(currency), amountText: amount)
            }
            try await AccountsCommand.printAccount(state, json: json)
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Debit an account's available balance.")
        @Option(help: "Account id (0x…).") var account: String
        @Option(help: "Currency code.") var currency: String
        @Option(help: "Amount, a plain decimal at the currency's scale.") var amount: String
        @Flag(help: "Print the account as JSON.") var json = false

        func run() async throws {
            let id = try AccountsCommand.accountID(account)
            let state = try await AccountsCommand.withAccounts {
                try await $0.withdraw(account: id, currency: Currency(currency), amountText: amount)
            }
            try await AccountsCommand.printAccount(state, json: json)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an account's balances (available and held).")
        @Option(help: "Account id (0x…).") var account: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let id = try AccountsCommand.accountID(account)
            let state = try await AccountsCommand.withAccounts { try await $0.state(of: id) }
            try await AccountsCommand.printAccount(state, json: json)
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rotate or revoke API keys.", subcommands: [Rotate.self, Revoke.self])

        struct Rotate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Issue a new key; old keys work until revoked.")
            @Option(help: "Account id (0x…).") var account: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                let id = try AccountsCommand.accountID(account)
                let issued = try await AccountsCommand.withAccounts { try await $0.rotateKey(account: id) }
                AccountsCommand.printCredentials(issued, json: json)
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a key at once.")
            @Option(help: "The API key to revoke.") var key: String
            @Flag(help: "Print JSON.") var json = false

            func run() async throws {
                try await AccountsCommand.withAccounts { try await $0.revokeKey(key) }
                print(json ? JSONValue.object([("revoked", .string(key))]).serialized() : "revoked \(key)")
            }
        }
    }

    /// The local demo account of scripts/run: created once, with fixed balances, credentials kept
    /// in a file (gitignored) that the README's example reads.
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the demo account if missing and print its credentials.")
        @Option(help: "Where the credentials are kept.") var file = ".swapline/demo.json"
        @Option(help: "The server URL written into the file.") var url = "http://127.0.0.1:8080"

        func run() async throws {
            let fileURL = URL(fileURLWithPath: file)
            if let data = try? Data(contentsOf: fileURL), case .object = try? JSONParser.parse([UInt8](data)),
                let document = try? JSONParser.parse([UInt8](data)), case .string(let accountText)? = document["account"],
                let account = AccountID(accountText),
                try await AccountsCommand.withAccounts({ try await $0.accountExists(account) })
            {
                print("demo account (from \(file)):")
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let issued = try await AccountsCommand.withAccounts { accounts in
                let issued = try await accounts.create(name: "Demo merchant")
                for (currency, amount) in [("USDT_TRX", "10000"), ("BTC", "1"), ("ETH", "10")] {
                    _ = try await accounts.deposit(account: issued.account, currency: Currency(currency), amountText: amount)
                }
                return issued
            }
            let document = JSONValue.object([
                ("account", .string(issued.account.rawValue)), ("key", .string(issued.key)),
                ("secret", .string(issued.secret)), ("url", .string(url)),
            ]).serialized()
            try FileManager.default.createDirectory(at: fileURL.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(document.utf8).write(to: fileURL)
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: fileURL.path)
            print("demo account created with 10000 USDT_TRX, 1 BTC, 10 ETH (credentials in \(file)):")
            print(document)
        }
    }

    static func accountID(_ text: String) throws -> AccountID {
        guard let id = AccountID(text) else { throw ValidationError("--account must be 0x followed by 40 hex characters") }
        return id
    }

    static func withAccounts<Result: Sendable>(_ body: @Sendable (AccountService) async throws -> Result) async throws -> Result {
        let settings = try await Runtime.settings()
        let logger = Runtime.logger()
        do {
            return try await Runtime.withClient(settings, logger: logger) { client in
                try await body(AccountService(client: client, secrets: settings.masterKey, market: settings.market, logger: logger))
            }
        } catch let error as SwaplineError {
            throw ValidationError(error.message)
        }
    }

    static func printCredentials(_ issued: IssuedCredentials, json: Bool) {
        if json {
            print(
                JSONValue.object([
                    ("account", .string(issued.account.rawValue)), ("key", .string(issued.key)), ("secret", .string(issued.secret)),
                ]).serialized())
        } else {
            print("account: \(issued.account.rawValue)\nkey:     \(issued.key)\nsecret:  \(issued.secret)  (shown once; stored encrypted)")
        }
    }

    static func printAccount(_ state: AccountState, json: Bool) async throws {
        let market = try await Runtime.settings().market
        let currencies = state.currencies
        let scale = { (currency: Currency) in market.currencies[currency]?.scale ?? 8 }
        if json {
            let balances: [JSONValue] = currencies.map { currency in
                .object([
                    ("currency", .string(currency.code)),
                    ("amount", .number(state.availableBalance(currency).text(scale: scale(currency)))),
                    ("held", .number(state.heldBalance(currency).text(scale: scale(currency)))),
                ])
            }
            print(
                JSONValue.object([("account", .string(state.account.rawValue)), ("name", .string(state.name)), ("balances", .array(balances))])
                    .serialized())
        } else {
            print("account \(state.account.rawValue) (\(state.name))")
            for currency in currencies {
                print(
                    "  \(currency.code.padding(toLength: 10, withPad: " ", startingAt: 0)) available \(state.availableBalance(currency).text(scale: scale(currency)))  held \(state.heldBalance(currency).text(scale: scale(currency)))"
                )
            }
        }
    }
}

struct MarketCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "market", abstract: "Inspect the market; switch a pair off or on at once on every node (the kill switch).",
        subcommands: [Example.self, Disable.self, Enable.self, Switches.self])

    /// `SRC/DST`, a pair of the configured market.
    static func pair(_ text: String, in market: Market) throws -> CurrencyPair {
        let parts = text.split(separator: "/").map(String.init)
        guard parts.count == 2 else { throw ValidationError("a pair is SOURCE/DESTINATION, e.g. USDT_TRX/BTC; got \(text)") }
        let pair = CurrencyPair(Currency(parts[0]), Currency(parts[1]))
        guard market.pairs[pair] != nil else {
            throw ValidationError("\(text) is not a pair of the market; pairs: \(market.pairs.keys.map(\.description).sorted().joined(separator: ", "))")
        }
        return pair
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch a pair off on every node at once: pre-calculate and create answer 100, exchanges not yet executed fail with PAIR_DISABLED.")
        @Argument(help: "The pair, SOURCE/DESTINATION (e.g. USDT_TRX/BTC).") var pair: String
        @Option(help: "Why, for the record.") var reason: String = ""

        func run() async throws {
            let settings = try await Runtime.settings()
            let pair = try MarketCommand.pair(self.pair, in: settings.market)
            let reason = self.reason
            let changed = try await Runtime.withClient(settings, role: nil, logger: Runtime.logger()) { client in
                try await PairSwitches.set(pair, enabled: false, reason: reason, client: client, logger: Runtime.logger())
            }
            print(changed ? "\(pair) switched off" : "\(pair) was already switched off")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch a pair back on (as far as the market file enables it).")
        @Argument(help: "The pair, SOURCE/DESTINATION.") var pair: String

        func run() async throws {
            let settings = try await Runtime.settings()
            let pair = try MarketCommand.pair(self.pair, in: settings.market)
            let changed = try await Runtime.withClient(settings, role: nil, logger: Runtime.logger()) { client in
                try await PairSwitches.set(pair, enabled: true, reason: "", client: client, logger: Runtime.logger())
            }
            print(changed ? "\(pair) switched on again" : "\(pair) was not switched off")
        }
    }

    struct Switches: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The pairs switched off now, when and why.")

        func run() async throws {
            let settings = try await Runtime.settings()
            let lines = try await Runtime.withClient(settings, role: nil, logger: Runtime.logger()) { client in
                let rows = try await client.query(
                    "SELECT source_currency || '/' || destination_currency, disabled_at::text, reason FROM pair_switches ORDER BY 1",
                    logger: Runtime.logger())
                var lines: [String] = []
                for try await (pair, at, reason) in rows.decode((String, String, String).self) {
                    lines.append("\(pair)  off since \(at)\(reason.isEmpty ? "" : "  \(reason)")")
                }
                return lines
            }
            print(lines.isEmpty ? "no pair is switched off" : lines.joined(separator: "\n"))
        }
    }

    struct Example: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the built-in market as a SWAPLINE_MARKET_FILE example.")
        func run() async throws {
            print(String(decoding: Market.defaults.encodeJSON(), as: UTF8.self))
        }
    }
}
