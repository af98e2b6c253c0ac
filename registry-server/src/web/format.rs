//! How numbers, sizes and times read on the pages.

/// `1234567` → `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A size in bytes with a binary unit: `512 B`, `1.5 KiB`, `3.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    // Precision beyond f64's 53 bits does not matter for one decimal.
    #[allow(clippy::cast_precision_loss)]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The day of an RFC 3339 time (`2026-11-26T06:09:12Z` → `2026-11-26`); other text as is.
pub(crate) fn date(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// `/search?` with `pairs` URL-encoded.
pub(crate) fn search_url(pairs: &[(&str, String)]) -> String {
    // Pairs of plain strings always encode.
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("/search?{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn search_urls_are_encoded() {
        assert_eq!(
            search_url(&[("q", "a&b <c>".to_owned()), ("page", "2".to_owned())]),
            "/search?q=a%26b+%3Cc%3E&page=2"
        );
    }

    #[test]
    fn dates_keep_the_day() {
        assert_eq!(date("2026-11-26T06:09:12Z"), "2026-11-26");
        assert_eq!(date("soon"), "soon");
    }
}
