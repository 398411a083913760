//! Who made a change.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorType {
    /// A member, by Firebase uid.
    User,
    /// The operator CLI (`overten-admin`).
    Operator,
    /// GitHub's secret-scanning partner program, reporting a leaked key.
    GithubSecretScanning,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "user",
            ActorType::Operator => "operator",
            ActorType::GithubSecretScanning => "github_secret_scanning",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ActorType::User, ActorType::Operator, ActorType::GithubSecretScanning].into_iter().find(|a| a.as_str() == s)
    }
}

/// Who made a change. A user always has an id (the Firebase uid), and is also who must be a
/// member of the org; the operator may name themselves; GitHub has no id. Serialised as the
/// contract's `{"type", "id"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User { uid: String },
    Operator { who: Option<String> },
    GithubSecretScanning,
}

impl Actor {
    pub fn user(uid: &str) -> Self {
        Actor::User { uid: uid.to_owned() }
    }

    pub fn operator(who: Option<&str>) -> Self {
        Actor::Operator { who: who.map(str::to_owned) }
    }

    pub fn github_secret_scanning() -> Self {
        Actor::GithubSecretScanning
    }

    /// The actor as stored: its type and id. `None` when they do not make an actor (a user
    /// without an id, an unknown type).
    pub fn from_parts(kind: &str, id: Option<String>) -> Option<Self> {
        match (ActorType::parse(kind)?, id) {
            (ActorType::User, Some(uid)) => Some(Actor::User { uid }),
            (ActorType::User, None) => None,
            (ActorType::Operator, who) => Some(Actor::Operator { who }),
            (ActorType::GithubSecretScanning, _) => Some(Actor::GithubSecretScanning),
        }
    }

    pub fn kind(&self) -> ActorType {
        match self {
            Actor::User { .. } => ActorType::User,
            Actor::Operator { .. } => ActorType::Operator,
            Actor::GithubSecretScanning => ActorType::GithubSecretScanning,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::User { uid } => Some(uid),
            Actor::Operator { who } => who.as_deref(),
            Actor::GithubSecretScanning => None,
        }
    }

    /// The uid whose membership the change needs (`None`: operator and GitHub need none).
    pub fn member_uid(&self) -> Option<&str> {
        match self {
            Actor::User { uid } => Some(uid),
            _ => None,
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut actor = serializer.serialize_struct("Actor", 2)?;
        actor.serialize_field("type", &self.kind())?;
        actor.serialize_field("id", &self.id())?;
        actor.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip() {
        for a in [ActorType::User, ActorType::Operator, ActorType::GithubSecretScanning] {
            assert_eq!(ActorType::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert_eq!(ActorType::parse("root"), None);
        assert_eq!(Actor::user("u1").member_uid(), Some("u1"));
        assert_eq!(Actor::operator(Some("ops")).member_uid(), None);
        assert_eq!(Actor::github_secret_scanning().member_uid(), None);
    }
}
