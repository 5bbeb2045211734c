//! RFC 3339 timestamps for the command line (`ferriam audit --since`, the `at` it prints):
//! Unix seconds to `YYYY-MM-DDTHH:MM:SSZ` and back, in UTC, with the calendar of
//! [`crate::civil`].

use crate::civil::{civil_from_days, days_from_civil, DAY};

/// `YYYY-MM-DDTHH:MM:SSZ` for Unix seconds.
pub fn format(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(DAY), unix.rem_euclid(DAY));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Unix seconds of an RFC 3339 date-time (`2026-12-04T10:00:00Z`, fractions ignored, any
/// offset such as `+01:00`); `None` when it is not one.
pub fn parse(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let value = |a: u8, b: u8| i64::from(a - b'0') * 10 + i64::from(b - b'0');
            let (h, m) = (value(*h1, *h2), value(*m1, *m2));
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let date = (year, u32::try_from(month).ok()?, u32::try_from(day).ok()?);
    let seconds = days_from_civil(date) * DAY + hour * 3600 + minute * 60 + second;
    Some(seconds - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format(0), "1970-01-01T00:00:00Z");
        assert_eq!(format(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format(1_796_382_645), "2026-12-04T11:10:45Z");
        for t in [0, 951_782_400, 1_796_382_645, 4_102_444_799, -1] {
            assert_eq!(parse(&format(t)), Some(t), "{t}");
        }
        assert_eq!(parse("2026-12-04T12:10:45+01:00"), Some(1_796_382_645));
        assert_eq!(parse("2026-12-04t11:10:45.123z"), Some(1_796_382_645));
        assert_eq!(parse("2026-12-04T06:10:45-05:00"), Some(1_796_382_645));
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for bad in [
            "",
            "2026-12-04",
            "2026-12-04 11:10:45Z",
            "2026-13-04T11:10:45Z",
            "2026-02-29T11:10:45Z",
            "2026-12-04T24:00:00Z",
            "2026-12-04T11:10:45",
            "2026-12-04T11:10:45+0100",
            "2026-12-04T11:10:45.Z",
            "+026-12-04T11:10:45Z",
            "2026-12-04T11:10:45Zjunk",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
