import Glibc
import Testing

@testable import SustainCore

/// The report's timestamps, against known instants (and glibc's gmtime for many more).
struct UTCTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_795_960_530_488, "2026-11-29T13:55:30.488Z"), (-1, "1969-12-31T23:59:59.999Z"),
        (4_102_444_799_999, "2099-12-31T23:59:59.999Z"), (253_402_300_799_000, "9999-12-31T23:59:59.000Z"),
    ])
    func knownInstants(milliseconds: Int64, expected: String) {
        #expect(UTCTimestamp.string(millisecondsSince1970: milliseconds) == expected)
    }

    @Test func agreesWithGmtimeEveryFewDaysFor300Years() {
        var seconds: Int = -2_208_988_800  // 1900
        while seconds < 7_258_118_400 {  // 2200
            var time = seconds
            var parts = tm()
            gmtime_r(&time, &parts)
            let (year, month, day) = UTCTimestamp.civil(fromDays: Int64(seconds / 86_400))
            #expect(
                year == Int64(parts.tm_year) + 1900 && month == Int64(parts.tm_mon) + 1 && day == Int64(parts.tm_mday))
            seconds += 86_400 * 3 + 3_600
            seconds -= seconds % 86_400
        }
    }
}
