//! How gatehouse words times and account standings for operators: one readable form
//! (`2026-12-03 09:12:45 UTC`) and plain words, the same in every command and on the console.

use crate::account::AccountStanding;

/// A time as every command prints it: `2026-12-03 09:12:45 UTC` (to the second: the audit's
/// rows are seconds apart). The bare number for one humantime cannot print (after the year
/// 9999, e.g. an expiry another program wrote into a shared database).
pub fn format_time(unix: i64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    match u64::try_from(unix.max(0)) {
        Ok(secs) if secs < YEAR_10000 => {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            // `2026-12-03T09:12:45Z`: always this shape below the year 10000.
            let rfc = humantime::format_rfc3339_seconds(t).to_string();
            match (rfc.get(..10), rfc.get(11..19)) {
                (Some(date), Some(time)) => format!("{date} {time} UTC"),
                _ => rfc,
            }
        }
        _ => format!("{unix} (unix time)"),
    }
}

/// An account's standing as of `now`: "active", "banned" or "suspended until <time>"; a
/// suspension that has run out is "active".
pub fn standing(standing: AccountStanding, now: i64) -> String {
    match standing {
        AccountStanding::Banned => "banned".to_owned(),
        AccountStanding::Suspended { until } if until > now => {
            format!("suspended until {}", format_time(until))
        }
        AccountStanding::Active | AccountStanding::Suspended { .. } => "active".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_796_239_836), "2026-12-02 19:30:36 UTC");
        assert_eq!(format_time(i64::MAX), format!("{} (unix time)", i64::MAX));
    }

    #[test]
    fn standings_read_as_words() {
        assert_eq!(standing(AccountStanding::Active, 10), "active");
        assert_eq!(standing(AccountStanding::Banned, 10), "banned");
        assert_eq!(
            standing(AccountStanding::Suspended { until: 60 }, 10),
            "suspended until 1970-01-01 00:01:00 UTC"
        );
        assert_eq!(
            standing(AccountStanding::Suspended { until: 5 }, 10),
            "active"
        );
    }
}
