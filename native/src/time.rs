//! The two timestamp shapes of the wire format, read as the full rules read them (DuckDB's
//! strptime: proleptic Gregorian, no leap seconds), or refused. The full rules quarantine
//! what is refused here for its range: year 0000, and a local time that rounds to year
//! 10000 in its millisecond column.

/// 10000-01-01T00:00:00 less half a millisecond, in microseconds since the epoch: from here
/// on, a local time rounded to milliseconds is past year 9999.
const ROUNDS_PAST_9999_US: i64 = 253_402_300_800_000_000 - 500;

/// `YYYY-MM-DDTHH:MM:SS.ffffff` (the log's local time) as microseconds since the epoch.
pub fn local_micros(text: &[u8]) -> Option<i64> {
    if text.len() != 26 || text[19] != b'.' {
        return None;
    }
    let fraction = number(&text[20..26])?;
    let micros = seconds(&text[..19])? * 1_000_000 + fraction;
    (micros < ROUNDS_PAST_9999_US).then_some(micros)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (the task's UTC time) as seconds since the epoch.
pub fn utc_seconds(text: &[u8]) -> Option<i64> {
    if text.len() != 20 || text[19] != b'Z' {
        return None;
    }
    seconds(&text[..19])
}

fn seconds(t: &[u8]) -> Option<i64> {
    if t[4] != b'-' || t[7] != b'-' || t[10] != b'T' || t[13] != b':' || t[16] != b':' {
        return None;
    }
    let (year, month, day) = (number(&t[0..4])?, number(&t[5..7])?, number(&t[8..10])?);
    let (hour, minute, second) = (
        number(&t[11..13])?,
        number(&t[14..16])?,
        number(&t[17..19])?,
    );
    let valid = year >= 1
        && (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn number(digits: &[u8]) -> Option<i64> {
    digits.iter().try_fold(0i64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + (d - b'0') as i64)
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(utc_seconds(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(utc_seconds(b"2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(utc_seconds(b"2023-02-29T00:00:00Z"), None);
        assert_eq!(utc_seconds(b"2023-09-01T24:00:00Z"), None);
        assert_eq!(local_micros(b"1969-12-31T23:59:59.999500"), Some(-500));
        assert_eq!(local_micros(b"2023-09-01T10:03:07.5"), None);
    }

    #[test]
    fn refuses_what_leaves_years_0001_to_9999() {
        assert_eq!(utc_seconds(b"0000-12-31T23:59:59Z"), None);
        assert_eq!(utc_seconds(b"0001-01-01T00:00:00Z"), Some(-62_135_596_800));
        assert_eq!(local_micros(b"0000-12-31T23:59:59.999999"), None);
        assert_eq!(
            local_micros(b"9999-12-31T23:59:59.999499"),
            Some(ROUNDS_PAST_9999_US - 1)
        );
        assert_eq!(local_micros(b"9999-12-31T23:59:59.999500"), None);
        assert_eq!(utc_seconds(b"9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(utc_seconds(b" 2023-09-01T14:03:07Z"), None);
        assert_eq!(utc_seconds(b"2023-9-01T14:03:07Z"), None);
    }
}
