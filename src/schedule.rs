//! Cron expressions and time zones of a BackupStrategy's schedule.

use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use jiff::tz::TimeZone;

/// Parses a 5-field cron expression (minute hour day-of-month month day-of-week) or an `@` macro.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(expression.trim())
        .map_err(|e| e.to_string())
}

/// Looks up an IANA time zone in the time zone database bundled into the binary.
pub fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_expressions_and_macros_parse() {
        for expression in [
            "0 1 * * 0",
            "0 1 * * 1-6",
            "*/15 2-4 1,15 * MON-FRI",
            "@weekly",
            "@daily",
        ] {
            assert!(parse_cron(expression).is_ok(), "{expression}");
        }
    }

    #[test]
    fn out_of_range_and_wrong_shape_are_refused() {
        for expression in [
            "61 1 * * 0",
            "0 25 * * *",
            "0 1 * * 8",
            "0 0 1 * * 0",
            "0 1 * *",
            "every day",
        ] {
            assert!(parse_cron(expression).is_err(), "{expression}");
        }
    }

    #[test]
    fn iana_names_resolve_and_others_do_not() {
        assert!(time_zone("Asia/Shanghai").is_ok());
        assert!(time_zone("America/Argentina/Buenos_Aires").is_ok());
        assert!(time_zone("UTC").is_ok());
        assert!(time_zone("Mars/Olympus_Mons").is_err());
    }
}
