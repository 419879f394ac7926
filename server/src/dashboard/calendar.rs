//! The dashboard's calendar: date ranges in the program's time zone, their bounds in UTC, and
//! the buckets of its charts. Pure; the sums themselves come from `storage::ReportStore`.

use jiff::{civil::Date, tz::TimeZone, ToSpan};

use crate::{
    ledger::Timestamp,
    message::{message, FieldError},
};

/// The longest custom range: five years of days.
const MAX_DAYS: i32 = 5 * 366;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangePreset {
    WeekToDate,
    MonthToDate,
    QuarterToDate,
    YearToDate,
    LastWeek,
    LastMonth,
    LastQuarter,
    LastYear,
}

impl RangePreset {
    pub const ALL: [Self; 8] = [
        Self::WeekToDate,
        Self::MonthToDate,
        Self::QuarterToDate,
        Self::YearToDate,
        Self::LastWeek,
        Self::LastMonth,
        Self::LastQuarter,
        Self::LastYear,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WeekToDate => "week_to_date",
            Self::MonthToDate => "month_to_date",
            Self::QuarterToDate => "quarter_to_date",
            Self::YearToDate => "year_to_date",
            Self::LastWeek => "last_week",
            Self::LastMonth => "last_month",
            Self::LastQuarter => "last_quarter",
            Self::LastYear => "last_year",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|preset| preset.as_str() == text)
    }
}

/// Whole days, both ends included, in the program's time zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub first: Date,
    pub last: Date,
    /// The preset it came from; `None` for custom dates.
    pub preset: Option<RangePreset>,
}

/// How a chart groups the days of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BucketSize {
    Day,
    /// Weeks start on Monday (ISO 8601).
    Week,
    Month,
}

/// One bar or point of a chart: the days from `first` up to the next bucket's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub first: Date,
    /// When it starts, in UTC.
    pub start: Timestamp,
}

impl DateRange {
    pub fn preset(preset: RangePreset, today: Date) -> Self {
        let week_start = monday_of(today);
        let quarter_start = quarter_of(today);
        let (first, last) = match preset {
            RangePreset::WeekToDate => (week_start, today),
            RangePreset::MonthToDate => (today.first_of_month(), today),
            RangePreset::QuarterToDate => (quarter_start, today),
            RangePreset::YearToDate => (today.first_of_year(), today),
            RangePreset::LastWeek => (week_start - 7.days(), week_start - 1.day()),
            RangePreset::LastMonth => {
                let last = today.first_of_month() - 1.day();
                (last.first_of_month(), last)
            }
            RangePreset::LastQuarter => {
                let last = quarter_start - 1.day();
                (quarter_of(last), last)
            }
            RangePreset::LastYear => {
                let last = today.first_of_year() - 1.day();
                (last.first_of_year(), last)
            }
        };
        Self { first, last, preset: Some(preset) }
    }

    /// A range an admin picked; `first` and `last` are `YYYY-MM-DD`.
    pub fn custom(first: &str, last: &str) -> Result<Self, FieldError> {
        let first: Date = first.parse().map_err(|_| FieldError::new("from", message!("a date like 2026-01-31")))?;
        let last: Date = last.parse().map_err(|_| FieldError::new("to", message!("a date like 2026-01-31")))?;
        let range = Self { first, last, preset: None };
        // Far dates would overflow the day after the range (jiff ends at year 9999); no
        // ledger holds an entry outside these years.
        let supported = Date::constant(1970, 1, 1)..=Date::constant(2999, 12, 31);
        if !supported.contains(&first) {
            return Err(FieldError::new("from", message!("a date from 1970-01-01 to 2999-12-31")));
        }
        if !supported.contains(&last) {
            return Err(FieldError::new("to", message!("a date from 1970-01-01 to 2999-12-31")));
        }
        if last < first {
            return Err(FieldError::new("to", message!("on or after the start date")));
        }
        if range.days() > MAX_DAYS {
            return Err(FieldError::new("to", message!("at most five years after the start date")));
        }
        Ok(range)
    }

    pub fn days(&self) -> i32 {
        (self.last - self.first).get_days() + 1
    }

    /// `[start, end)` in UTC: midnight of the first day to midnight after the last.
    pub fn bounds(&self, tz: &TimeZone) -> (Timestamp, Timestamp) {
        (start_of(self.first, tz), start_of(self.last + 1.day(), tz))
    }

    pub fn bucket_size(&self) -> BucketSize {
        match self.days() {
            ..=62 => BucketSize::Day,
            63..=182 => BucketSize::Week,
            _ => BucketSize::Month,
        }
    }

    /// The chart's buckets, in order; the first starts at the range's first day.
    pub fn buckets(&self, tz: &TimeZone) -> Vec<Bucket> {
        let size = self.bucket_size();
        let mut buckets = Vec::new();
        let mut first = self.first;
        while first <= self.last {
            buckets.push(Bucket { first, start: start_of(first, tz) });
            first = match size {
                BucketSize::Day => first + 1.day(),
                BucketSize::Week => monday_of(first) + 7.days(),
                BucketSize::Month => first.first_of_month() + 1.month(),
            };
        }
        buckets
    }
}

/// The index of the bucket holding `at`, for `buckets` in order.
pub fn bucket_index(buckets: &[Bucket], at: Timestamp) -> Option<usize> {
    buckets.partition_point(|bucket| bucket.start <= at).checked_sub(1)
}

/// Today in the program's time zone.
pub fn today(now: Timestamp, tz: &TimeZone) -> Date {
    jiff::Timestamp::from_millisecond(now.0).map(|at| at.to_zoned(tz.clone()).date()).unwrap_or_default()
}

/// A program's time zone by its IANA name (`Asia/Seoul`); `None` if the name is unknown.
pub fn time_zone(name: &str) -> Option<TimeZone> {
    TimeZone::get(name).ok()
}

fn start_of(day: Date, tz: &TimeZone) -> Timestamp {
    // A day always has a first instant, even when a DST change skips midnight.
    let zoned = day.to_zoned(tz.clone()).expect("dates within the supported range");
    Timestamp(zoned.timestamp().as_millisecond())
}

fn monday_of(day: Date) -> Date {
    day - i64::from(day.weekday().to_monday_zero_offset()).days()
}

fn quarter_of(day: Date) -> Date {
    let month = (day.month() - 1) / 3 * 3 + 1;
    Date::new(day.year(), month, 1).expect("the first of a month exists")
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn presets_resolve_from_today() {
        let today = date(2026, 11, 18); // a Wednesday
        let range = |preset| {
            let DateRange { first, last, .. } = DateRange::preset(preset, today);
            (first.to_string(), last.to_string())
        };
        let owned = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(range(RangePreset::WeekToDate), owned("2026-11-16", "2026-11-18"));
        assert_eq!(range(RangePreset::MonthToDate), owned("2026-11-01", "2026-11-18"));
        assert_eq!(range(RangePreset::QuarterToDate), owned("2026-10-01", "2026-11-18"));
        assert_eq!(range(RangePreset::YearToDate), owned("2026-01-01", "2026-11-18"));
        assert_eq!(range(RangePreset::LastWeek), owned("2026-11-09", "2026-11-15"));
        assert_eq!(range(RangePreset::LastMonth), owned("2026-10-01", "2026-10-31"));
        assert_eq!(range(RangePreset::LastQuarter), owned("2026-07-01", "2026-09-30"));
        assert_eq!(range(RangePreset::LastYear), owned("2025-01-01", "2025-12-31"));
        let january = DateRange::preset(RangePreset::LastQuarter, date(2026, 1, 5));
        assert_eq!((january.first, january.last), (date(2025, 10, 1), date(2025, 12, 31)));
        for preset in RangePreset::ALL {
            assert_eq!(RangePreset::parse(preset.as_str()), Some(preset));
        }
    }

    #[test]
    fn bounds_follow_the_program_time_zone() {
        let range = DateRange::custom("2026-03-01", "2026-03-01").unwrap();
        let seoul = time_zone("Asia/Seoul").unwrap();
        let (start, end) = range.bounds(&seoul);
        // Midnight in Seoul is 15:00 UTC the day before.
        assert_eq!(start.to_string(), "2026-02-28T15:00:00.000Z");
        assert_eq!(end.0 - start.0, 86_400_000);
        // The day New York springs forward has 23 hours.
        let new_york = time_zone("America/New_York").unwrap();
        let (start, end) = DateRange::custom("2026-03-08", "2026-03-08").unwrap().bounds(&new_york);
        assert_eq!(end.0 - start.0, 23 * 3_600_000);
        assert_eq!(today(Timestamp(start.0 + 1), &new_york), date(2026, 3, 8));
        assert!(time_zone("Mars/Olympus").is_none());
    }

    #[test]
    fn custom_ranges_are_checked() {
        assert_eq!(
            DateRange::custom("2026-13-01", "2026-01-02").unwrap_err().to_string(),
            "from: a date like 2026-01-31"
        );
        assert_eq!(DateRange::custom("2026-01-02", "2026-01-01").unwrap_err().field, "to");
        assert_eq!(DateRange::custom("2020-01-01", "2026-01-01").unwrap_err().field, "to");
        assert_eq!(DateRange::custom("2026-01-01", "2026-01-31").unwrap().days(), 31);
        assert_eq!(DateRange::custom("9999-12-01", "9999-12-31").unwrap_err().field, "from");
        assert_eq!(DateRange::custom("2999-12-01", "9999-12-31").unwrap_err().field, "to");
        assert_eq!(DateRange::custom("-9999-01-01", "2026-01-01").unwrap_err().field, "from");
    }

    #[test]
    fn charts_use_days_weeks_or_months_by_length() {
        let utc = TimeZone::UTC;
        let month = DateRange::custom("2026-11-01", "2026-11-30").unwrap();
        assert_eq!(month.buckets(&utc).len(), 30);
        let quarter = DateRange::custom("2026-07-01", "2026-09-30").unwrap();
        let weeks = quarter.buckets(&utc);
        assert_eq!(quarter.bucket_size(), BucketSize::Week);
        // The first week is cut at the range's start (a Wednesday); the rest start on Mondays.
        assert_eq!((weeks[0].first, weeks[1].first), (date(2026, 7, 1), date(2026, 7, 6)));
        assert_eq!(weeks.len(), 14);
        let year = DateRange::preset(RangePreset::LastYear, date(2026, 5, 5));
        let months = year.buckets(&utc);
        assert_eq!(months.len(), 12);
        assert_eq!(bucket_index(&months, months[3].start), Some(3));
        assert_eq!(bucket_index(&months, Timestamp(months[3].start.0 - 1)), Some(2));
        assert_eq!(bucket_index(&months, Timestamp(months[0].start.0 - 1)), None);
    }
}
