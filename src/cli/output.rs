//! How commands print for people: times.

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An RFC 3339 time; the bare number for one humantime cannot print (after the year 9999,
/// e.g. an expiry another program wrote into a shared database).
pub fn format_time(unix: i64) -> String {
    const YEAR_10000: u64 = 253_402_300_800;
    match u64::try_from(unix.max(0)) {
        Ok(secs) if secs < YEAR_10000 => {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            humantime::format_rfc3339_seconds(t).to_string()
        }
        _ => format!("{unix} (unix time)"),
    }
}

/// A table for a command's listing: a header line and aligned columns, no borders (so that
/// `grep` and `awk` read it as easily as a person does), as wide as the terminal when there
/// is one.
pub fn table<I, T>(header: I) -> comfy_table::Table
where
    I: IntoIterator<Item = T>,
    T: Into<comfy_table::Cell>,
{
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_header(header);
    table
}
