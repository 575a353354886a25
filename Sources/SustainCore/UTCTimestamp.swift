/// ISO 8601 UTC timestamps with milliseconds (`2026-11-29T14:05:30.488Z`), computed from the Unix time in pure
/// arithmetic (proleptic Gregorian calendar; Howard Hinnant's `civil_from_days`), so no C time function is needed.
public enum UTCTimestamp {
    /// The timestamp of `milliseconds` since 1970-01-01T00:00:00Z.
    public static func string(millisecondsSince1970 milliseconds: Int64) -> String {
        let (secondsTotal, millisecond) = floorDivision(milliseconds, 1000)
        let (days, secondOfDay) = floorDivision(secondsTotal, 86_400)
        let (year, month, day) = civil(fromDays: days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millisecond, 3))Z"
    }

    /// The timestamp of `seconds` since 1970-01-01T00:00:00Z, to the nearest millisecond.
    public static func string(secondsSince1970 seconds: Double) -> String {
        string(millisecondsSince1970: Int64((seconds * 1000).rounded()))
    }

    /// Seconds since 1970-01-01T00:00:00Z of an ISO 8601 date-time as grid-data services write them:
    /// `2026-11-29T14:00Z` (no seconds), `2026-11-29T14:00:00` (no zone: UTC), `2026-11-29 14:00:00.000Z`,
    /// `2026-11-29T14:00:00+01:00`. Nil for anything else, a date that does not exist included.
    public static func seconds(parsing text: some StringProtocol) -> Double? {
        seconds(parsingUTF8: Array(text.utf8)[...])
    }

    /// `seconds(parsing:)` of UTF-8 bytes (a field cut from a file, with no String made for it).
    public static func seconds(parsingUTF8 slice: ArraySlice<UInt8>) -> Double? {
        let bytes = slice
        var index = bytes.startIndex
        func number(_ digits: Int) -> Int64? {
            guard index + digits <= bytes.endIndex else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + digits] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            index += digits
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard index < bytes.endIndex, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(0x2D), let month = number(2), expect(0x2D), let day = number(2),
            index < bytes.endIndex, bytes[index] == 0x54 || bytes[index] == 0x20
        else { return nil }
        index += 1
        guard let hour = number(2), expect(0x3A), let minute = number(2) else { return nil }
        var second: Double = 0
        if expect(0x3A) {
            guard let whole = number(2) else { return nil }
            second = Double(whole)
            if expect(0x2E) || expect(0x2C) {
                var fraction: Int64 = 0
                var scale: Int64 = 1
                let start = index
                while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39, scale < 1_000_000_000 {
                    fraction = fraction * 10 + Int64(bytes[index] - 0x30)
                    scale *= 10
                    index += 1
                }
                guard index > start else { return nil }
                second += Double(fraction) / Double(scale)
            }
        }
        var offsetMinutes: Int64 = 0
        if index < bytes.endIndex {
            if bytes[index] == 0x5A {
                index += 1
            } else if bytes[index] == 0x2B || bytes[index] == 0x2D {
                let sign: Int64 = bytes[index] == 0x2D ? -1 : 1
                index += 1
                guard let hours = number(2) else { return nil }
                _ = expect(0x3A)
                guard let minutes = number(2), hours < 24, minutes < 60 else { return nil }
                offsetMinutes = sign * (hours * 60 + minutes)
            }
        }
        guard index == bytes.endIndex, (1...12).contains(month), hour < 24, minute < 60, second < 61 else { return nil }
        let days = self.days(fromCivil: year, month, day)
        guard civil(fromDays: days) == (year, month, day) else { return nil }
        return Double((days * 86_400) + hour * 3600 + minute * 60 - offsetMinutes * 60) + second
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Year, month (1–12) and day (1–31) of a day count since 1970-01-01.
    public static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
        return (quotient, value - quotient * divisor)
    }
}
