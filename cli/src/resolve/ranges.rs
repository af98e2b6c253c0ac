//! Cargo requirement syntax and base compatibility as version ranges for PubGrub.
//!
//! Each comparator becomes an interval the way cargo reads it (`^1.2` is `>=1.2.0, <2.0.0`,
//! `~1.2` is `>=1.2.0, <1.3.0`, `1.*` is `>=1.0.0, <2.0.0`, a missing part counts as 0 on
//! the way up); a requirement is the intersection of its comparators. Pre-releases are left
//! to the candidate list: they are only offered when asked for.

use pubgrub::Ranges;
use semver::{Comparator, Op, Version, VersionReq};

use modularbase_pack::BaseCompat;

/// The set of versions `req` admits.
pub(crate) fn req_to_ranges(req: &VersionReq) -> Ranges<Version> {
    req.comparators
        .iter()
        .fold(Ranges::full(), |acc, c| acc.intersection(&comparator(c)))
}

/// The union of `[M.m.0, M.(m+1).0)` over the entries.
pub(crate) fn compat_to_ranges(compat: &[BaseCompat]) -> Ranges<Version> {
    compat.iter().fold(Ranges::empty(), |acc, c| {
        acc.union(&Ranges::between(c.lower(), c.upper()))
    })
}

fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

fn comparator(c: &Comparator) -> Ranges<Version> {
    let (major, minor, patch) = (c.major, c.minor, c.patch);
    let lower = || {
        let mut low = v(major, minor.unwrap_or(0), patch.unwrap_or(0));
        low.pre = c.pre.clone();
        low
    };
    // The first version above everything the comparator's given parts name.
    let next = || match (minor, patch) {
        (None, _) => v(major + 1, 0, 0),
        (Some(minor), None) => v(major, minor + 1, 0),
        (Some(minor), Some(patch)) => v(major, minor, patch + 1),
    };
    match c.op {
        Op::Exact | Op::Wildcard => match (minor, patch) {
            (Some(_), Some(_)) if c.op == Op::Exact => Ranges::singleton(lower()),
            _ => Ranges::between(lower(), next()),
        },
        Op::Greater => match (minor, patch) {
            (Some(_), Some(_)) => Ranges::strictly_higher_than(lower()),
            _ => Ranges::higher_than(next()),
        },
        Op::GreaterEq => Ranges::higher_than(lower()),
        Op::Less => Ranges::strictly_lower_than(lower()),
        Op::LessEq => match (minor, patch) {
            (Some(_), Some(_)) => Ranges::lower_than(lower()),
            _ => Ranges::strictly_lower_than(next()),
        },
        Op::Tilde => match minor {
            None => Ranges::between(lower(), v(major + 1, 0, 0)),
            Some(minor) => Ranges::between(lower(), v(major, minor + 1, 0)),
        },
        Op::Caret => {
            let upper = match (major, minor, patch) {
                (0, Some(0), Some(patch)) => v(0, 0, patch + 1),
                (0, Some(minor), _) => v(0, minor + 1, 0),
                (major, _, _) => v(major + 1, 0, 0),
            };
            Ranges::between(lower(), upper)
        }
        // `Op` is non-exhaustive; anything new admits nothing rather than everything.
        _ => Ranges::empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every candidate agrees with the semver crate's own matching (pre-releases aside).
    #[test]
    fn ranges_agree_with_cargo_semantics() {
        let candidates: Vec<Version> = [
            "0.0.1", "0.0.2", "0.1.0", "0.1.5", "0.2.0", "1.0.0", "1.0.9", "1.1.0", "1.2.3",
            "1.2.4", "1.3.0", "2.0.0", "2.5.1", "3.0.0",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for req in [
            "*",
            "1",
            "1.2",
            "1.2.3",
            "=1.2",
            "=1.2.3",
            ">1",
            ">1.2",
            ">1.2.3",
            ">=1.1",
            ">=1.2.3",
            "<2",
            "<1.2",
            "<=1",
            "<=1.2",
            "<=1.2.3",
            "~1",
            "~1.2",
            "~1.2.3",
            "^0.0.1",
            "^0.1",
            "^0.1.2",
            "^1.2",
            "1.*",
            "1.2.*",
            ">=1.0, <2.0",
            ">=0.1, <1.2.4",
        ] {
            let parsed: VersionReq = req.parse().unwrap();
            let ranges = req_to_ranges(&parsed);
            for version in &candidates {
                assert_eq!(
                    ranges.contains(version),
                    parsed.matches(version),
                    "{req} on {version}: {ranges}"
                );
            }
        }
    }

    #[test]
    fn base_compatibility_is_a_union_of_minor_series() {
        let compat: Vec<BaseCompat> = ["1.0", "1.2"].iter().map(|s| s.parse().unwrap()).collect();
        let ranges = compat_to_ranges(&compat);
        for (version, admitted) in [
            ("1.0.5", true),
            ("1.1.0", false),
            ("1.2.9", true),
            ("1.3.0", false),
        ] {
            assert_eq!(
                ranges.contains(&version.parse::<Version>().unwrap()),
                admitted,
                "{version}"
            );
        }
    }
}
