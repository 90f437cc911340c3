import Foundation
import SwaplineDomain
import Testing

@Suite struct TimestampTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(Timestamp.format(t0) == "2026-11-25T10:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_600_800.123)) == "2026-11-25T10:00:00.123Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 4_102_444_799.999)) == "2099-12-31T23:59:59.999Z")
    }

    @Test func neverTrapsOnExtremeDates() {
        #expect(Timestamp.format(.distantFuture) == "4001-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: .infinity)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -.infinity)) == "0000-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1e15)) == "9999-12-31T23:59:59.999Z")
    }

    @Test func parsesWhatItFormats() throws {
        for seconds in [0, 1_795_600_800, 951_782_400, -86_400, 253_402_300_799] {
            for milliseconds in [0, 1, 500, 999] {
                let date = Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(milliseconds) / 1000)
                let text = Timestamp.format(date)
                let parsed = try #require(Timestamp.parse(text))
                #expect(Timestamp.format(parsed) == text)
                #expect(abs(parsed.timeIntervalSince(date)) < 0.0005)
            }
        }
    }

    @Test func parsesVariants() {
        #expect(Timestamp.parse("2026-11-25T10:00:00Z") == t0)
        #expect(Timestamp.parse("2026-11-25T10:00:00.5Z") == at(0).addingTimeInterval(0.5))
        #expect(Timestamp.parse("2026-11-25T10:00:00.123456789Z") == Timestamp.parse("2026-11-25T10:00:00.123Z"))
        #expect(Timestamp.parse("2026-11-25T11:00:00+01:00") == t0)
        #expect(Timestamp.parse("2026-11-25T05:30:00-04:30") == t0)
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test(arguments: [
        "", "2026-11-25", "2026-11-25T10:00:00", "2026-11-25 10:00:00Z", "2026-11-25t10:00:00z", "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:60:00Z",
        "2026-11-25T10:00:60Z", "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00.1234567890Z", "2026-11-25T10:00:00ZZ",
        "2026-11-25T10:00:00+0100", "26-11-25T10:00:00Z", "2026-11-25T10:00:00Z ", " 2026-11-25T10:00:00Z",
        "２026-11-25T10:00:00Z", "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z",
    ])
    func rejectsInvalidText(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func utcDayChangesAtUTCMidnight() {
        let midnight = Date(timeIntervalSince1970: 1_795_651_200)  // 2026-11-26T00:00:00Z
        #expect(Timestamp.utcDay(midnight.addingTimeInterval(-0.001)) == "2026-11-25")
        #expect(Timestamp.utcDay(midnight) == "2026-11-26")
        #expect(Timestamp.utcDay(t0) == "2026-11-25")
        #expect(Timestamp.utcDay(Date(timeIntervalSince1970: -1)) == "1969-12-31")
    }
}
