//! The three lists as request bodies give them (create, roll, `PATCH`), validated as the
//! contract says: absent leaves a list as it is, `null` lifts it, a list of 1 to its maximum of
//! valid, distinct entries replaces it; anything else is `400 invalid_request`.

use super::networks::parse_network;
use super::{MAX_ALLOWED_IPS, MAX_FORMATS, MAX_PERMISSIONS, Permission, Restrictions};
use crate::error::Error;

/// A change to a key's lists: per list, `None` leaves it, `Some(None)` lifts it, `Some(Some(_))`
/// replaces it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestrictionsPatch {
    pub permissions: Option<Option<Vec<Permission>>>,
    pub formats: Option<Option<Vec<String>>>,
    pub allowed_ips: Option<Option<Vec<super::IpNet>>>,
}

/// The lists as a body holds them, before validation: per list absent, `null` or strings.
pub type RawLists = (Option<Option<Vec<String>>>, Option<Option<Vec<String>>>, Option<Option<Vec<String>>>);

impl RestrictionsPatch {
    /// Leaves every list as it is.
    pub const KEEP: RestrictionsPatch = RestrictionsPatch { permissions: None, formats: None, allowed_ips: None };

    /// Validates the lists of a body: `(permissions, formats, allowed_ips)`.
    pub fn parse((permissions, formats, allowed_ips): RawLists) -> Result<Self, Error> {
        Ok(RestrictionsPatch {
            permissions: list("permissions", permissions, MAX_PERMISSIONS, Repeats::Refused, |p| {
                Permission::parse(p).ok_or_else(|| {
                    format!(
                        "`permissions` entries are `<resource>:<access>` with resource generations, runs or files and access read or write; got {}",
                        quoted(p)
                    )
                })
            })?,
            formats: list("formats", formats, MAX_FORMATS, Repeats::Refused, |f| {
                if is_format_slug(f) {
                    Ok(f.to_owned())
                } else {
                    Err(format!("`formats` entries match ^[a-z0-9][a-z0-9._-]{{0,31}}$; got {}", quoted(f)))
                }
            })?,
            // Two spellings of one network (`203.0.113.9/24`, `203.0.113.0/24`) are one entry: the
            // canonical form is kept once, as a JSON Schema's `uniqueItems` cannot say they repeat.
            allowed_ips: list("allowed_ips", allowed_ips, MAX_ALLOWED_IPS, Repeats::Merged, |a| {
                parse_network(a).ok_or_else(|| {
                    format!("`allowed_ips` entries are IPv4 or IPv6 addresses or CIDR networks; got {}", quoted(a))
                })
            })?,
        })
    }

    /// Whether the body named no list at all.
    pub fn is_empty(&self) -> bool {
        self.permissions.is_none() && self.formats.is_none() && self.allowed_ips.is_none()
    }

    /// The lists after this change: what it names replaces or lifts, the rest stays.
    pub fn apply(&self, current: &Restrictions) -> Restrictions {
        Restrictions {
            permissions: self.permissions.clone().unwrap_or_else(|| current.permissions.clone()),
            formats: self.formats.clone().unwrap_or_else(|| current.formats.clone()),
            allowed_ips: self.allowed_ips.clone().unwrap_or_else(|| current.allowed_ips.clone()),
        }
    }
}

/// A format slug: `^[a-z0-9][a-z0-9._-]{0,31}$`.
pub fn is_format_slug(text: &str) -> bool {
    let bytes = text.as_bytes();
    (1..=32).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// What a repeated entry is: a 400, or merged into the first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repeats {
    Refused,
    Merged,
}

fn list<T: PartialEq + std::fmt::Display>(
    field: &str,
    raw: Option<Option<Vec<String>>>,
    max: usize,
    repeats: Repeats,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Option<Vec<T>>>, Error> {
    let Some(Some(entries)) = raw else { return Ok(raw.map(|_| None)) };
    if entries.is_empty() || entries.len() > max {
        return Err(Error::InvalidRequest(format!(
            "`{field}` must hold 1 to {max} entries, or be null for no restriction"
        )));
    }
    let mut parsed: Vec<T> = Vec::with_capacity(entries.len());
    for entry in &entries {
        let value = parse(entry).map_err(Error::InvalidRequest)?;
        match (parsed.contains(&value), repeats) {
            (false, _) => parsed.push(value),
            (true, Repeats::Merged) => {}
            (true, Repeats::Refused) => return Err(Error::InvalidRequest(format!("`{field}` holds {value} twice"))),
        }
    }
    Ok(Some(Some(parsed)))
}

/// An entry echoed in an error: JSON-quoted, at most 40 characters.
fn quoted(entry: &str) -> String {
    serde_json::Value::String(entry.chars().take(40).collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Option<Option<Vec<String>>> {
        Some(Some(list.iter().map(|s| s.to_string()).collect()))
    }

    fn error(raw: RawLists) -> String {
        match RestrictionsPatch::parse(raw) {
            Err(Error::InvalidRequest(m)) => m,
            other => panic!("expected invalid_request, got {other:?}"),
        }
    }

    #[test]
    fn lists_are_validated_as_the_contract_says() {
        let patch = RestrictionsPatch::parse((
            strings(&["generations:write", "runs:read"]),
            strings(&["pdf", "docx", "a.b-c_d", "0"]),
            strings(&["203.0.113.9/24", "2001:db8::/32"]),
        ))
        .unwrap();
        let applied = patch.apply(&Restrictions::default());
        assert_eq!(applied.permissions.unwrap().len(), 2);
        assert_eq!(applied.formats.unwrap(), ["pdf", "docx", "a.b-c_d", "0"]);
        let ips: Vec<String> = applied.allowed_ips.unwrap().iter().map(|n| n.to_string()).collect();
        assert_eq!(ips, ["203.0.113.0/24", "2001:db8::/32"]);

        assert!(error((strings(&[]), None, None)).contains("1 to 20"));
        assert!(error((None, strings(&[]), None)).contains("1 to 50"));
        assert!(error((None, None, strings(&[]))).contains("1 to 20"));
        let many: Vec<String> = (0..21).map(|i| format!("f{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(error((None, None, strings(&many))).contains("1 to 20"));
        assert!(RestrictionsPatch::parse((None, strings(&many[..21]), None)).is_ok(), "21 formats are fine");
        // Exactly the maximum is accepted.
        let fifty: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
        let fifty: Vec<&str> = fifty.iter().map(String::as_str).collect();
        assert!(RestrictionsPatch::parse((None, strings(&fifty), None)).is_ok());
        assert!(error((None, strings(&[&fifty[..], &["f50"]].concat()), None)).contains("1 to 50"));
        let twenty: Vec<String> = (0..20).map(|i| format!("10.0.{i}.0/24")).collect();
        let twenty: Vec<&str> = twenty.iter().map(String::as_str).collect();
        assert!(RestrictionsPatch::parse((None, None, strings(&twenty))).is_ok());
        assert!(error((strings(&["runs:admin"]), None, None)).contains("\"runs:admin\""));
        assert!(error((None, strings(&["PDF"]), None)).contains("\"PDF\""));
        assert!(error((None, strings(&["-pdf"]), None)).contains("^[a-z0-9]"));
        assert!(error((None, strings(&[&"a".repeat(33)]), None)).contains("got"));
        assert!(error((None, strings(&["pdf", "pdf"]), None)).contains("pdf twice"));
        assert!(error((strings(&["runs:read", "runs:read"]), None, None)).contains("twice"));
        let merged = RestrictionsPatch::parse((
            None,
            None,
            strings(&["203.0.113.0/24", "203.0.113.7/24", "::ffff:203.0.113.1/120"]),
        ))
        .unwrap()
        .apply(&Restrictions::default());
        assert_eq!(merged.allowed_ips.unwrap().len(), 1, "one network however it is spelled");
        assert!(error((None, None, strings(&["example.com"]))).contains("\"example.com\""));
        let long = "x".repeat(100);
        assert!(error((None, None, strings(&[&long]))).len() < 150, "an entry is echoed at most 40 characters");
    }

    #[test]
    fn absent_leaves_null_lifts_a_list_replaces() {
        let current =
            RestrictionsPatch::parse((strings(&["runs:read"]), strings(&["pdf"]), strings(&["198.51.100.7"])))
                .unwrap()
                .apply(&Restrictions::default());
        let patch = RestrictionsPatch::parse((Some(None), strings(&["docx"]), None)).unwrap();
        assert!(!patch.is_empty() && RestrictionsPatch::default().is_empty());
        for one in [
            RestrictionsPatch { permissions: Some(None), ..Default::default() },
            RestrictionsPatch { formats: Some(None), ..Default::default() },
            RestrictionsPatch { allowed_ips: Some(None), ..Default::default() },
        ] {
            assert!(!one.is_empty(), "{one:?}");
        }
        let next = patch.apply(&current);
        assert_eq!(next.permissions, None, "null lifts");
        assert_eq!(next.formats, Some(vec!["docx".to_owned()]), "a list replaces");
        assert_eq!(next.allowed_ips, current.allowed_ips, "absent leaves");
        assert_eq!(RestrictionsPatch::default().apply(&current), current);
    }

    #[test]
    fn format_slugs() {
        for ok in ["pdf", "0", "a", "docx", "a.b", "x-y_z", &"a".repeat(32)] {
            assert!(is_format_slug(ok), "{ok}");
        }
        for bad in ["", "Pdf", ".pdf", "_x", "-x", "a b", "pdf/", "é", &"a".repeat(33)] {
            assert!(!is_format_slug(bad), "{bad}");
        }
    }
}
