//! How commands print for people: listings as tables; times and standings are worded by
//! `gatehouse::operator_text`, as the console words them.

pub use gatehouse::operator_text::{format_time, standing};

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
