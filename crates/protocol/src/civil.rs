//! The proleptic Gregorian calendar without a date library: Howard Hinnant's
//! `days_from_civil` and `civil_from_days` (day 0 = 1970-01-01), written with Euclidean division
//! so negative days need no special case. Used for ages (`mfa::age`) and RFC 3339 timestamps.

/// A civil date: year, month (1-12), day (1-31).
pub(crate) type Date = (i64, u32, u32);

/// Seconds in a day; Unix time counts no leap seconds.
pub(crate) const DAY: i64 = 86_400;

/// Days from 1970-01-01 to the civil date `(y, m, d)` (Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil((y, m, d): Date) -> i64 {
    // Years start on 1 March, so the leap day is the last day of the year.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0, ..., February = 11
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date of day `z`, counted from 1970-01-01 (Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(z: i64) -> Date {
    let z = z + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Both casts are exact: m and d lie in the ranges noted above.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_days() {
        for (date, days) in [
            ((1970, 1, 1), 0),
            ((1969, 12, 31), -1),
            ((2000, 2, 29), 11_016),
            ((2000, 3, 1), 11_017),
            ((2038, 1, 19), 24_855),
            ((1900, 3, 1), -25_508),
            ((1, 1, 1), -719_162),
        ] {
            assert_eq!(days_from_civil(date), days, "{date:?}");
            assert_eq!(civil_from_days(days), date, "{days}");
        }
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_in_order() {
        let start = days_from_civil((1800, 1, 1));
        let mut previous = civil_from_days(start - 1);
        for z in start..start + 146_097 {
            let date = civil_from_days(z);
            assert!(date > previous, "{date:?} after {previous:?}");
            assert_eq!(days_from_civil(date), z);
            previous = date;
        }
    }
}
