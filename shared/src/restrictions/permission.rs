//! `<resource>:<access>`: what a restricted key may call. `write` includes `read`.

use std::fmt;

/// The API's resources, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    Generations,
    Runs,
    Files,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    pub resource: Resource,
    pub access: Access,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Generations, Resource::Runs, Resource::Files];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Generations => "generations",
            Resource::Runs => "runs",
            Resource::Files => "files",
        }
    }
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

impl Permission {
    pub const fn new(resource: Resource, access: Access) -> Self {
        Permission { resource, access }
    }

    /// `generations:write` and the like; `None` for anything else (case-sensitive, no spaces).
    pub fn parse(text: &str) -> Option<Self> {
        let (resource, access) = text.split_once(':')?;
        let resource = Resource::ALL.into_iter().find(|r| r.as_str() == resource)?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return None,
        };
        Some(Permission { resource, access })
    }

    /// Whether holding `self` grants `required`: the same resource, and `write` includes `read`.
    pub fn grants(self, required: Permission) -> bool {
        self.resource == required.resource && (self.access == Access::Write || required.access == Access::Read)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource.as_str(), self.access.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip_every_permission() {
        for resource in Resource::ALL {
            for access in [Access::Read, Access::Write] {
                let p = Permission::new(resource, access);
                assert_eq!(Permission::parse(&p.to_string()), Some(p));
            }
        }
        for bad in ["", "runs", "runs:", ":read", "runs:admin", "Runs:read", "runs:read ", "run:read", "runs:read:x"] {
            assert_eq!(Permission::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn write_includes_read_of_the_same_resource_only() {
        let p = |r, a| Permission::new(r, a);
        use {Access::*, Resource::*};
        assert!(p(Generations, Write).grants(p(Generations, Read)));
        assert!(p(Generations, Write).grants(p(Generations, Write)));
        assert!(p(Generations, Read).grants(p(Generations, Read)));
        assert!(!p(Generations, Read).grants(p(Generations, Write)));
        assert!(!p(Generations, Write).grants(p(Runs, Read)));
        assert!(!p(Files, Read).grants(p(Runs, Read)));
    }
}
