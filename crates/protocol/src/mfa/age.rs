//! A user's age in whole years, for the `age_below` and `age_at_least` conditions, counted to
//! the UTC date of `now` with the calendar of [`crate::civil`].

use crate::civil::{civil_from_days, days_from_civil, Date, DAY};

/// Whole years from `birthdate` (OpenID Connect's `YYYY-MM-DD`) to the UTC date of `now`
/// (Unix seconds). `None` for a date that does not parse, does not exist, has the year 0000
/// (OpenID Connect Core §5.1: the year is withheld) or lies after that day.
///
/// Someone born on 29 February has a birthday on 1 March in a year without one: the age
/// grows on the first day whose (month, day) is not before the birth's.
pub(crate) fn years(birthdate: &str, now: i64) -> Option<u32> {
    let birth = parse_date(birthdate)?;
    let today = civil_from_days(now.div_euclid(DAY));
    let mut age = today.0 - birth.0;
    if (today.1, today.2) < (birth.1, birth.2) {
        age -= 1;
    }
    u32::try_from(age).ok()
}

/// Reads exactly `YYYY-MM-DD` with ASCII digits; the date must exist and the year is not 0000.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    if year == 0 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let date = (i64::from(year), month, day);
    // A date that does not exist (2023-02-30) comes back as another one (2023-03-02).
    (civil_from_days(days_from_civil(date)) == date).then_some(date)
}

/// The value of a run of ASCII digits (no sign, no spaces).
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds at 12:00 UTC of a civil date.
    fn noon(date: Date) -> i64 {
        days_from_civil(date) * DAY + DAY / 2
    }

    #[test]
    fn dates_parse_strictly() {
        assert_eq!(parse_date("2000-02-29"), Some((2000, 2, 29)));
        assert_eq!(parse_date("1999-12-31"), Some((1999, 12, 31)));
        for bad in [
            "0000-05-17",
            "1900-02-29",
            "2023-02-29",
            "2023-04-31",
            "2023-13-01",
            "2023-00-10",
            "2023-01-00",
            "2023-1-01",
            "2023/01/01",
            "+023-01-01",
            "2023-01-01T00:00:00Z",
            "2023",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn age_grows_on_the_birthday_not_the_day_before() {
        assert_eq!(years("2008-06-15", noon((2026, 6, 14))), Some(17));
        assert_eq!(years("2008-06-15", noon((2026, 6, 15))), Some(18));
        assert_eq!(years("2008-06-15", noon((2026, 12, 31))), Some(18));
        assert_eq!(years("2008-06-15", noon((2008, 6, 15))), Some(0));
        assert_eq!(years("2008-06-15", noon((2008, 6, 14))), None);
    }

    #[test]
    fn the_utc_date_counts() {
        let midnight = days_from_civil((2026, 6, 15)) * DAY;
        assert_eq!(years("2008-06-15", midnight - 1), Some(17));
        assert_eq!(years("2008-06-15", midnight), Some(18));
        // Before 1970, `now` is negative.
        assert_eq!(years("1950-01-01", noon((1969, 12, 31))), Some(19));
    }

    #[test]
    fn a_29_february_birthday_is_on_1_march_in_other_years() {
        assert_eq!(years("2008-02-29", noon((2026, 2, 28))), Some(17));
        assert_eq!(years("2008-02-29", noon((2026, 3, 1))), Some(18));
        assert_eq!(years("2008-02-29", noon((2028, 2, 28))), Some(19));
        assert_eq!(years("2008-02-29", noon((2028, 2, 29))), Some(20));
    }

    #[test]
    fn unusable_birthdates_have_no_age() {
        for bad in ["0000-06-15", "2008-02-30", "15/06/2008", "2008"] {
            assert_eq!(years(bad, noon((2026, 1, 1))), None, "{bad}");
        }
    }
}
