//! Time: UTC timestamps in milliseconds, written as RFC 3339, and the injectable clock.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch, UTC. Serialised as RFC 3339 (`2026-11-22T17:00:00.000Z`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn plus_days(self, days: u32) -> Self {
        Self(self.0 + days as i64 * MS_PER_DAY)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') {
            return None;
        }
        if bytes[13] != b':' || bytes[16] != b':' {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = text.get(range)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut rest = &text[19..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
            millis = padded.parse::<i64>().ok()?;
            rest = &fraction[digits..];
        }
        let offset_minutes = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first()? {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                    return None;
                }
                let hours: i64 = rest[1..3].parse().ok()?;
                let minutes: i64 = rest[4..6].parse().ok()?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                sign * (hours * 60 + minutes)
            }
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(59) - offset_minutes * 60;
        Some(Self(seconds * 1_000 + millis))
    }
}

/// Calendar periods for caps, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    /// ISO weeks, from Monday.
    Week,
    Month,
    Year,
    Lifetime,
}

impl Timestamp {
    /// The start of the calendar period containing this time (UTC); the epoch for `Lifetime`.
    pub fn start_of(self, period: Period) -> Self {
        let days = self.0.div_euclid(MS_PER_DAY);
        let (year, month, _) = civil_from_days(days);
        let start_day = match period {
            Period::Day => days,
            // 1970-01-01 was a Thursday: shift so that weeks start on Monday.
            Period::Week => days - (days + 3).rem_euclid(7),
            Period::Month => days_from_civil(year, month, 1),
            Period::Year => days_from_civil(year, 1, 1),
            Period::Lifetime => return Self(i64::MIN),
        };
        Self(start_day * MS_PER_DAY)
    }

    /// The UTC block of `months` calendar months (1, 3, 12: month, quarter, year) holding this
    /// time, counted from January: its start and the next block's.
    pub fn month_block(self, months: i64) -> (Self, Self) {
        let (year, month, _) = civil_from_days(self.0.div_euclid(MS_PER_DAY));
        let first = (month - 1) / months * months;
        let next = first + months;
        let start = days_from_civil(year, first + 1, 1);
        let end = days_from_civil(year + next.div_euclid(12), next.rem_euclid(12) + 1, 1);
        (Self(start * MS_PER_DAY), Self(end * MS_PER_DAY))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
        let (second, millis) = (ms_of_day / 1_000 % 60, ms_of_day % 1_000);
        write!(f, "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time like 2026-11-22T17:00:00Z"))
    }
}

/// In the OpenAPI document: an RFC 3339 `date-time` string.
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .examples(["2026-11-22T17:00:00.000Z"])
            .into()
    }
}

impl utoipa::ToSchema for Timestamp {}

/// The time source, injected so that pending periods, expiry and tier windows can be tested.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Timestamp(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that stands still until moved: for tests and deterministic jobs.
#[derive(Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn at(time: Timestamp) -> Self {
        Self(std::sync::atomic::AtomicI64::new(time.0))
    }

    pub fn set(&self, time: Timestamp) {
        self.0.store(time.0, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        let t = Timestamp::parse_rfc3339("2024-02-29T23:59:58.5Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T23:59:58.500Z");
        let offset = Timestamp::parse_rfc3339("2024-03-01T08:59:58.500+09:00").unwrap();
        assert_eq!(offset, t);
        assert_eq!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z"), Some(Timestamp(-1_000)));
        for bad in ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01 00:00", "2024-01-01T00:00:00", ""] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn periods_start_on_calendar_boundaries() {
        let t = Timestamp::parse_rfc3339("2026-11-22T17:30:00Z").unwrap(); // a Sunday
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        assert_eq!(t.start_of(Period::Day), at("2026-11-22T00:00:00Z"));
        assert_eq!(t.start_of(Period::Week), at("2026-11-16T00:00:00Z"));
        assert_eq!(t.start_of(Period::Month), at("2026-11-01T00:00:00Z"));
        assert_eq!(t.start_of(Period::Year), at("2026-01-01T00:00:00Z"));
        assert_eq!(at("2026-11-16T00:00:00Z").start_of(Period::Week), at("2026-11-16T00:00:00Z"));
    }

    #[test]
    fn month_blocks_are_months_quarters_and_years() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        let t = at("2026-11-22T17:30:00Z");
        assert_eq!(t.month_block(1), (at("2026-11-01T00:00:00Z"), at("2026-12-01T00:00:00Z")));
        assert_eq!(t.month_block(3), (at("2026-10-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        assert_eq!(t.month_block(12), (at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z")));
        let leap = at("2024-02-29T23:59:59.999Z");
        assert_eq!(leap.month_block(1), (at("2024-02-01T00:00:00Z"), at("2024-03-01T00:00:00Z")));
        assert_eq!(leap.month_block(3), (at("2024-01-01T00:00:00Z"), at("2024-04-01T00:00:00Z")));
        assert_eq!(at("2026-12-31T23:59:59Z").month_block(1).1, at("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        for day in (-200_000..200_000).step_by(97) {
            let t = Timestamp(day * MS_PER_DAY + 45_296_789);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Some(t));
        }
    }
}
