//! A key's lists on its items: `permissions`, `formats`, `allowed_ips` as lists of strings, on
//! the `ApiKeys` item (the authorizer's one read returns them) and on the org's `KEY#` item (the
//! listing shows them). An absent attribute is an unrestricted list.

use aws_sdk_dynamodb::types::AttributeValue;

use super::items::Item;
use crate::error::Error;
use crate::restrictions::networks::parse_network;
use crate::restrictions::{IpNet, Permission, Restrictions, is_format_slug};

pub(super) const PERMISSIONS: &str = "permissions";
pub(super) const FORMATS: &str = "formats";
pub(super) const ALLOWED_IPS: &str = "allowed_ips";

/// The attributes of the lists that restrict the key (none for an unrestricted one).
pub(super) fn restriction_attributes(r: &Restrictions) -> Vec<(String, AttributeValue)> {
    let list = |entries: Vec<String>| AttributeValue::L(entries.into_iter().map(AttributeValue::S).collect());
    let mut attributes = vec![];
    if let Some(p) = &r.permissions {
        attributes.push((PERMISSIONS.to_owned(), list(p.iter().map(Permission::to_string).collect())));
    }
    if let Some(f) = &r.formats {
        attributes.push((FORMATS.to_owned(), list(f.clone())));
    }
    if let Some(a) = &r.allowed_ips {
        attributes.push((ALLOWED_IPS.to_owned(), list(a.iter().map(IpNet::to_string).collect())));
    }
    attributes
}

/// The lists of an item. A stored entry that does not parse is an internal error: the key is
/// refused (5xx), never treated as unrestricted.
pub(super) fn restrictions_of(item: &Item) -> Result<Restrictions, Error> {
    let copy = |name| item.get(name).cloned();
    decode_lists(copy(PERMISSIONS), copy(FORMATS), copy(ALLOWED_IPS))
}

/// [`restrictions_of`] from the lists moved out of an item that is not needed afterwards (the hot
/// path's `key_record`: a format is kept as the string the item held, not copied).
pub(super) fn decode_lists(
    permissions: Option<AttributeValue>,
    formats: Option<AttributeValue>,
    allowed_ips: Option<AttributeValue>,
) -> Result<Restrictions, Error> {
    Ok(Restrictions {
        permissions: list(permissions, PERMISSIONS, |p| Permission::parse(&p))?,
        formats: list(formats, FORMATS, |f| is_format_slug(&f).then_some(f))?,
        allowed_ips: list(allowed_ips, ALLOWED_IPS, |a| parse_network(&a))?,
    })
}

fn list<T>(
    value: Option<AttributeValue>,
    name: &str,
    parse: impl Fn(String) -> Option<T>,
) -> Result<Option<Vec<T>>, Error> {
    let bad = || Error::Internal(format!("attribute {name} is not a list of valid entries"));
    match value {
        None => Ok(None),
        Some(AttributeValue::L(entries)) => entries
            .into_iter()
            .map(|e| match e {
                AttributeValue::S(text) => parse(text).ok_or_else(bad),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

/// The org item's revision of its lists: every change of them (`PATCH`) adds one, and a roll
/// (whose new key inherits them) or another change is conditioned on the revision it read, so
/// neither acts on lists that changed meanwhile.
pub(super) const REVISION: &str = "restrictions_rev";

/// The condition "the lists are as read" on `item`, and its value if it has one.
pub(super) fn unchanged(item: &Item) -> (String, Option<(&'static str, AttributeValue)>) {
    match item.get(REVISION) {
        Some(rev) => (format!("{REVISION} = :rev"), Some((":rev", rev.clone()))),
        None => (format!("attribute_not_exists({REVISION})"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::restrictions::RestrictionsPatch;

    #[test]
    fn lists_read_back_as_written_and_bad_ones_fail_closed() {
        let strings = |l: &[&str]| Some(Some(l.iter().map(|s| s.to_string()).collect()));
        let r =
            RestrictionsPatch::parse((strings(&["runs:read"]), strings(&["pdf", "docx"]), strings(&["2001:db8::/32"])))
                .unwrap()
                .apply(&Restrictions::default());
        let item: Item = restriction_attributes(&r).into_iter().collect();
        assert_eq!(item.len(), 3);
        assert_eq!(
            item[FORMATS],
            AttributeValue::L(vec![AttributeValue::S("pdf".into()), AttributeValue::S("docx".into())])
        );
        assert_eq!(restrictions_of(&item).unwrap(), r);
        assert!(restriction_attributes(&Restrictions::default()).is_empty());
        assert_eq!(unchanged(&item), ("attribute_not_exists(restrictions_rev)".into(), None));
        let revised = Item::from([(REVISION.to_owned(), AttributeValue::N("3".into()))]);
        assert_eq!(
            unchanged(&revised),
            ("restrictions_rev = :rev".into(), Some((":rev", AttributeValue::N("3".into()))))
        );
        assert_eq!(restrictions_of(&Item::new()).unwrap(), Restrictions::default());
        for (name, value) in [
            (PERMISSIONS, AttributeValue::L(vec![AttributeValue::S("runs:admin".into())])),
            (FORMATS, AttributeValue::L(vec![AttributeValue::N("1".into())])),
            (ALLOWED_IPS, AttributeValue::S("203.0.113.0/24".into())),
            (ALLOWED_IPS, AttributeValue::L(vec![AttributeValue::S("nowhere".into())])),
        ] {
            let item = Item::from([(name.to_owned(), value)]);
            assert!(matches!(restrictions_of(&item), Err(Error::Internal(_))), "{name}");
        }
    }
}
