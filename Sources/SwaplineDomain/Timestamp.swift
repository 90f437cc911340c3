import Foundation

/// ISO-8601 UTC timestamps with milliseconds (`2026-11-25T10:00:00.000Z`), written and read by hand.
///
/// Foundation's date formatters depend on locale and platform details and are not needed for one
/// fixed format; plain calendar arithmetic (proleptic Gregorian, UTC) keeps the domain pure and the
/// text identical on every machine. Events, quotes and the API's `createdDate` all use it.
public enum Timestamp {
    private static let millisecondsPerDay: Int64 = 86_400_000
    /// 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: four-digit years only.
    private static let minimumMilliseconds: Int64 = -62_167_219_200_000
    private static let maximumMilliseconds: Int64 = 253_402_300_799_999

    /// Formats `date` as `yyyy-MM-ddTHH:mm:ss.SSSZ` in UTC, rounded to the nearest millisecond.
    ///
    /// Dates outside years 0000–9999 are clamped rather than trapping: formatting must never crash.
    public static func format(_ date: Date) -> String {
        let milliseconds = self.milliseconds(date)
        let days = floorDivide(milliseconds, millisecondsPerDay)
        let inDay = milliseconds - days * millisecondsPerDay
        let (year, month, day) = civil(fromDays: days)
        let hour = inDay / 3_600_000
        let minute = inDay / 60_000 % 60
        let second = inDay / 1000 % 60
        let millisecond = inDay % 1000
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(hour, 2) + ":" + pad(minute, 2) + ":"
            + pad(second, 2) + "." + pad(millisecond, 3) + "Z"
    }

    /// The UTC calendar day of `date` as `yyyy-MM-dd`, the key of daily limits.
    public static func utcDay(_ date: Date) -> String {
        let days = floorDivide(milliseconds(date), millisecondsPerDay)
        let (year, month, day) = civil(fromDays: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    /// Parses `yyyy-MM-ddTHH:mm:ss`, an optional fraction of 1–9 digits (kept to the millisecond,
    /// truncated), and `Z` or a `±HH:MM` offset. Anything else, or an impossible date, is `nil`.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0

        func number(_ width: Int) -> Int64? {
            guard index + width <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + width] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += width
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard index < bytes.count, let ascii = character.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }

        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2), expect("T"),
            let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2)
        else { return nil }
        guard (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }

        var millisecond: Int64 = 0
        if expect(".") {
            var digits = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                if digits < 3 {
                    millisecond = millisecond * 10 + Int64(bytes[index] - UInt8(ascii: "0"))
                }
                digits += 1
                index += 1
            }
            guard (1...9).contains(digits) else { return nil }
            if digits < 3 {
                for _ in digits..<3 {
                    millisecond *= 10
                }
            }
        }

        var offsetMinutes: Int64 = 0
        if expect("Z") {
            // UTC.
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let negative = bytes[index] == UInt8(ascii: "-")
            index += 1
            guard let offsetHours = number(2), expect(":"), let offsetMinute = number(2), offsetHours <= 23, offsetMinute <= 59
            else { return nil }
            offsetMinutes = (offsetHours * 60 + offsetMinute) * (negative ? -1 : 1)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }

        let days = days(fromCivil: year, month, day)
        let total = days * millisecondsPerDay + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millisecond
        return Date(timeIntervalSince1970: TimeInterval(total) / 1000)
    }

    /// Milliseconds since 1970 for `date`, rounded to nearest and clamped to four-digit years.
    static func milliseconds(_ date: Date) -> Int64 {
        let scaled = (date.timeIntervalSince1970 * 1000).rounded()
        guard scaled.isFinite else { return scaled > 0 ? maximumMilliseconds : minimumMilliseconds }
        if scaled <= TimeInterval(minimumMilliseconds) { return minimumMilliseconds }
        if scaled >= TimeInterval(maximumMilliseconds) { return maximumMilliseconds }
        return Int64(scaled)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return value % divisor < 0 ? quotient - 1 : quotient
    }

    private static func isLeap(_ year: Int64) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let shiftedMonth = (month + 9) % 12
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
