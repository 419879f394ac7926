//! Money in the console: minor units shown and typed as the currency's major units
//! (`12345` USD is `123.45`; KRW and JPY have no minor unit).

use super::{
    charts::format_number,
    i18n::{t, trf},
};

/// Digits after the decimal point in ISO 4217 (2 unless listed).
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `12345` USD as `USD 123.45`.
pub fn format_money(minor: i64, currency: &str) -> String {
    format!("{currency} {}", format_amount(minor, currency))
}

/// `12345` USD as `123.45` (no currency), for form fields.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let unit = 10_u64.pow(digits);
    let (major, fraction) = (minor.unsigned_abs() / unit, minor.unsigned_abs() % unit);
    let major = format_number(i64::try_from(major).unwrap_or(i64::MAX));
    if digits == 0 {
        format!("{sign}{major}")
    } else {
        format!("{sign}{major}.{fraction:0width$}", width = digits as usize)
    }
}

/// `"5"`, `"5.5"` or `"1,234.50"` USD as minor units; at most the currency's decimals.
pub fn parse_amount(text: &str, currency: &str) -> Result<i64, String> {
    let digits = minor_digits(currency);
    let text = text.trim().replace(',', "");
    let (major, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let well_formed = !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && fraction.len() <= digits as usize
        && !(text.contains('.') && fraction.is_empty());
    if !well_formed {
        return Err(match digits {
            0 => trf("a whole amount of {0}, e.g. 5000", &[&currency]),
            _ => trf("an amount of {0} with at most {1} decimals, e.g. 5.00", &[&currency, &digits]),
        });
    }
    let unit = 10_i64.pow(digits);
    let fraction_value = format!("{fraction:0<width$}", width = digits as usize);
    let major: i64 = major.parse().map_err(|_| t("too large").to_owned())?;
    let fraction: i64 = if digits == 0 { 0 } else { fraction_value.parse().unwrap_or(0) };
    major.checked_mul(unit).and_then(|value| value.checked_add(fraction)).ok_or_else(|| t("too large").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_follow_the_currency_minor_unit() {
        assert_eq!(format_money(12_345, "USD"), "USD 123.45");
        assert_eq!(format_money(1_234_500, "KRW"), "KRW 1,234,500");
        assert_eq!(format_money(-5, "USD"), "USD -0.05");
        assert_eq!(format_amount(1_500, "KWD"), "1.500");
        assert_eq!(parse_amount("5", "USD"), Ok(500));
        assert_eq!(parse_amount("1,234.5", "USD"), Ok(123_450));
        assert_eq!(parse_amount("5000", "KRW"), Ok(5_000));
        assert!(parse_amount("5.5", "KRW").is_err());
        assert!(parse_amount("5.555", "USD").is_err());
        assert!(parse_amount("-5", "USD").is_err());
        assert!(parse_amount("", "USD").is_err());
        assert!(parse_amount("99999999999999999999", "USD").is_err());
    }
}
