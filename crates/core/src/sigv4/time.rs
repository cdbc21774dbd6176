//! The request time: unix seconds to the UTC calendar and `x-amz-date`,
//! without a date library or a host clock.

use super::types::SigV4Error;

/// A UTC calendar date and time, computed without a date library.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDateTime {
    pub year: u64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Converts unix seconds to the proleptic Gregorian UTC calendar (Howard Hinnant's
/// `civil_from_days`), so the module needs neither chrono nor a host clock API.
pub fn civil_from_unix(unix_time: u64) -> CivilDateTime {
    let days = unix_time / 86_400;
    let secs = unix_time % 86_400;
    // Shift the epoch to 0000-03-01 so that leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    CivilDateTime {
        year,
        month: month as u8,
        day: day as u8,
        hour: (secs / 3_600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
    }
}

/// `YYYYMMDDTHHMMSSZ`, the SigV4 request time (`x-amz-date` / `X-Amz-Date`).
/// Written digit by digit: `format!` was a measurable share of signing
/// under V8 (bench/micro).
pub fn amz_date(unix_time: u64) -> Result<String, SigV4Error> {
    let t = civil_from_unix(unix_time);
    if t.year > 9999 {
        return Err(SigV4Error::TimeOutOfRange { unix_time });
    }
    let mut b = *b"00000000T000000Z";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            if let Some(d) = b.get_mut(i) {
                *d = b'0' + (v % 10) as u8;
            }
            v /= 10;
        }
    };
    put(0, 4, t.year);
    put(4, 2, u64::from(t.month));
    put(6, 2, u64::from(t.day));
    put(9, 2, u64::from(t.hour));
    put(11, 2, u64::from(t.minute));
    put(13, 2, u64::from(t.second));
    // Only ASCII digits, 'T' and 'Z' went in, so this never falls back.
    Ok(std::str::from_utf8(&b).unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leap(y: u64) -> bool {
        (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
    }

    fn month_lengths(year: u64) -> [u64; 12] {
        let feb = if leap(year) { 29 } else { 28 };
        [31, feb, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    }

    /// Days from 1970-01-01 to `year-month-day`, by counting (independent of the
    /// closed-form conversion under test).
    fn days_by_counting(year: u64, month: u8, day: u8) -> u64 {
        let mut days = 0;
        for y in 1970..year {
            days += if leap(y) { 366 } else { 365 };
        }
        let lengths = month_lengths(year);
        for m in 1..month {
            days += lengths[usize::from(m - 1)];
        }
        days + u64::from(day) - 1
    }

    #[test]
    fn civil_dates_agree_with_day_counting() {
        let mut day_number = 0u64;
        for year in 1970..=2404u64 {
            for (m, &len) in month_lengths(year).iter().enumerate() {
                for d in 1..=len {
                    let t = civil_from_unix(day_number * 86_400 + 86_399);
                    assert_eq!(
                        (t.year, t.month, t.day, t.hour, t.minute, t.second),
                        (year, m as u8 + 1, d as u8, 23, 59, 59)
                    );
                    day_number += 1;
                }
            }
        }
        assert_eq!(days_by_counting(2000, 3, 1) * 86_400, 951_868_800);
    }

    #[test]
    fn amz_date_around_leap_days_and_year_boundaries() {
        let at = |y, m, d, secs| amz_date(days_by_counting(y, m, d) * 86_400 + secs);
        assert_eq!(amz_date(0).as_deref(), Ok("19700101T000000Z"));
        assert_eq!(amz_date(1_440_938_160).as_deref(), Ok("20150830T123600Z"));
        assert_eq!(at(1972, 2, 29, 0).as_deref(), Ok("19720229T000000Z"));
        assert_eq!(at(1999, 12, 31, 86_399).as_deref(), Ok("19991231T235959Z"));
        assert_eq!(at(1999, 12, 31, 86_400).as_deref(), Ok("20000101T000000Z"));
        // 2000 is a leap year (divisible by 400), 2100 is not (divisible by 100).
        assert_eq!(at(2000, 2, 28, 86_400).as_deref(), Ok("20000229T000000Z"));
        assert_eq!(amz_date(951_868_799).as_deref(), Ok("20000229T235959Z"));
        assert_eq!(at(2100, 2, 28, 86_400).as_deref(), Ok("21000301T000000Z"));
        assert_eq!(amz_date(4_107_542_400).as_deref(), Ok("21000301T000000Z"));
        assert_eq!(at(2016, 12, 31, 86_399).as_deref(), Ok("20161231T235959Z"));
        assert_eq!(amz_date(1_483_228_800).as_deref(), Ok("20170101T000000Z"));
        assert_eq!(at(2400, 2, 29, 3_723).as_deref(), Ok("24000229T010203Z"));
        assert_eq!(amz_date(253_402_300_799).as_deref(), Ok("99991231T235959Z"));
        assert_eq!(
            amz_date(253_402_300_800),
            Err(SigV4Error::TimeOutOfRange {
                unix_time: 253_402_300_800
            })
        );
    }
}
