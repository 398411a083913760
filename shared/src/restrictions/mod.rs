//! Restricted keys: what a key may call (`permissions`), act on (`formats`) and be used from
//! (`allowed_ips`), each list independent, `None` meaning "not restricted" (README, "Restricted
//! keys"). The authorizer and `/verify` judge a request with [`Restrictions::check`] on the record
//! their one read returned; a downstream Rust service judges what the gate cannot see (a format in
//! a request body) with [`Restrictions::from_authorizer_context`] and [`Restrictions::check_action`].

mod check;
pub mod networks;
mod patch;
pub mod permission;
pub mod route_table;
pub mod routes;

pub use check::{Denied, RouteMatch};
pub use networks::IpNet;
pub use patch::{RestrictionsPatch, is_format_slug};
pub use permission::{Access, Permission, Resource};

/// Entries per list, as the contract allows.
pub const MAX_PERMISSIONS: usize = 20;
pub const MAX_FORMATS: usize = 50;
pub const MAX_ALLOWED_IPS: usize = 20;

/// A key's three lists. The default, every key created before restrictions existed, and signup's
/// first key: unrestricted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restrictions {
    pub permissions: Option<Vec<Permission>>,
    pub formats: Option<Vec<String>>,
    pub allowed_ips: Option<Vec<IpNet>>,
}

impl Restrictions {
    /// Whether any list restricts the key.
    pub fn is_restricted(&self) -> bool {
        self.permissions.is_some() || self.formats.is_some() || self.allowed_ips.is_some()
    }

    /// `permissions` as the authorizer's context carries it: comma-separated, `None` when not
    /// restricted (API Gateway context values are strings). Written in one buffer: it is on the
    /// hot path of every restricted key.
    pub fn permissions_csv(&self) -> Option<String> {
        self.permissions.as_ref().map(|list| {
            let mut csv = String::with_capacity(list.len() * 18);
            for (i, p) in list.iter().enumerate() {
                if i > 0 {
                    csv.push(',');
                }
                csv.push_str(p.resource.as_str());
                csv.push(':');
                csv.push_str(p.access.as_str());
            }
            csv
        })
    }

    /// `formats`, comma-separated, `None` when not restricted.
    pub fn formats_csv(&self) -> Option<String> {
        self.formats.as_ref().map(|list| list.join(","))
    }

    /// The lists a downstream service reads from the authorizer's context (`permissions`,
    /// `formats`: absent for a key not restricted by them). Source networks were checked at the
    /// gate and are not carried. `Err` names a context value that is not what the authorizer
    /// writes.
    pub fn from_authorizer_context(permissions: Option<&str>, formats: Option<&str>) -> Result<Self, String> {
        let permissions = permissions
            .map(|csv| {
                csv.split(',')
                    .map(|p| Permission::parse(p).ok_or_else(|| format!("unknown permission in context: {p:?}")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let formats = formats
            .map(|csv| {
                csv.split(',')
                    .map(|f| {
                        if is_format_slug(f) { Ok(f.to_owned()) } else { Err(format!("bad format in context: {f:?}")) }
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        Ok(Restrictions { permissions, formats, allowed_ips: None })
    }
}

/// Serialises as the three fields, to be `#[serde(flatten)]`ed into the response objects.
impl serde::Serialize for Restrictions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Restrictions", 3)?;
        s.serialize_field(
            "permissions",
            &self.permissions.as_ref().map(|l| l.iter().map(Permission::to_string).collect::<Vec<_>>()),
        )?;
        s.serialize_field("formats", &self.formats)?;
        s.serialize_field(
            "allowed_ips",
            &self.allowed_ips.as_ref().map(|l| l.iter().map(IpNet::to_string).collect::<Vec<_>>()),
        )?;
        s.end()
    }
}
