//! Audit events: an `EVENT#<event_id>` item in the org's partition of `Orgs`, written inside the
//! change's own transaction, read newest first, deleted by DynamoDB TTL (`ttl`) after 400 days.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::DynamoStore;
use super::items::{EVENT, Item, event_sk, get_s, n, opt_s, put, s};
use super::retry::sdk_error;
use crate::audit::{Actor, Audit, Change, Event, EventPage, EventQuery, EventType, expiry_of_event, new_event_id};
use crate::clock::{now_secs, rfc3339};
use crate::error::Error;
use crate::store::ListEvents;

impl ListEvents for DynamoStore {
    async fn list_events(&self, org_id: &str, query: &EventQuery) -> Result<EventPage, Error> {
        self.query_events(org_id, query).await
    }
}

impl DynamoStore {
    /// The event of `change` to `key_id` (if any), as one more item of the change's transaction.
    pub(super) fn event_put(
        &self,
        org_id: &str,
        key_id: Option<&str>,
        change: &Change,
        audit: &Audit,
    ) -> Result<TransactWriteItem, Error> {
        // The id's time and `created_at` are the change's one instant.
        let id = new_event_id(u64::try_from(audit.at_millis).unwrap_or(0));
        let mut item = self.org_key(org_id, event_sk(&id));
        item.extend([
            ("id".to_owned(), s(&id)),
            ("type".to_owned(), s(change.event_type())),
            ("created_at".to_owned(), s(&rfc3339(audit.at))),
            ("actor_type".to_owned(), s(audit.actor.kind().as_str())),
            ("request_id".to_owned(), s(&audit.request_id)),
            ("data".to_owned(), s(&change.data().to_string())),
            ("ttl".to_owned(), n(expiry_of_event(audit.at))),
        ]);
        let optional = [
            ("actor_id", audit.actor.id()),
            ("key_id", key_id),
            ("source_ip", audit.source_ip.as_deref()),
            ("user_agent", audit.user_agent.as_deref()),
        ];
        item.extend(optional.into_iter().filter_map(|(name, value)| Some((name.to_owned(), s(value?)))));
        put(&self.tables.orgs, item, "attribute_not_exists(sk)")
    }

    pub(super) async fn query_events(&self, org_id: &str, query: &EventQuery) -> Result<EventPage, Error> {
        let out = self
            .run_query(org_id, EVENT)
            // Event ids sort by time: newest first is the run read backwards.
            .scan_index_forward(false)
            // Past its retention an event is not served, though DynamoDB's TTL deletion may lag
            // by days. Expired events are the oldest, at the end of the run: a page cut short by
            // this filter has nothing older worth reading.
            .filter_expression("#ttl > :now")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":now", n(now_secs()))
            .limit(query.limit as i32 + 1)
            .set_exclusive_start_key(query.cursor.as_deref().map(|id| self.org_key(org_id, event_sk(id))))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let mut items = out.items.unwrap_or_default();
        let has_more = items.len() > query.limit;
        items.truncate(query.limit);
        let data = items.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if has_more { data.last().map(|e| e.id.clone()) } else { None };
        Ok(EventPage { data, has_more, next_cursor })
    }
}

fn event(item: &Item) -> Result<Event, Error> {
    let kind = get_s(item, "actor_type")?;
    let actor = Actor::from_parts(&kind, opt_s(item, "actor_id"))
        .ok_or_else(|| Error::Internal(format!("not an actor: type {kind}")))?;
    let event_type = get_s(item, "type")?;
    let event_type =
        EventType::parse(&event_type).ok_or_else(|| Error::Internal(format!("unknown event type {event_type}")))?;
    let data = match item.get("data") {
        Some(AttributeValue::S(text)) => serde_json::from_str(text).map_err(|e| Error::Internal(e.to_string()))?,
        _ => serde_json::json!({}),
    };
    Ok(Event {
        id: get_s(item, "id")?,
        kind: event_type,
        created_at: get_s(item, "created_at")?,
        actor,
        key_id: opt_s(item, "key_id"),
        request_id: get_s(item, "request_id")?,
        source_ip: opt_s(item, "source_ip"),
        user_agent: opt_s(item, "user_agent"),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::store;
    use super::*;

    #[test]
    fn an_event_is_one_put_of_its_change_and_reads_back_the_same() {
        let store = store();
        let audit = Audit::at_millis(Actor::user("uid_1"), "req-9", 1_800_000_000_123)
            .with_origin(Some("198.51.100.7"), Some("curl/8"));
        let change = Change::KeyRenamed { from: "a".into(), to: "b".into() };
        let put = store.event_put("org_1", Some("key_1"), &change, &audit).unwrap();
        let put = put.put().unwrap();
        assert_eq!(put.condition_expression(), Some("attribute_not_exists(sk)"));
        let item = put.item();
        let id = item["id"].as_s().unwrap();
        assert_eq!(item["sk"].as_s().unwrap(), &format!("EVENT#{id}"));
        assert_eq!(&id[..12], &new_event_id(1_800_000_000_123)[..12], "the id's time is the change's instant");
        assert_eq!(item["created_at"].as_s().unwrap(), "2027-01-15T08:00:00Z");
        assert_eq!(item["ttl"].as_n().unwrap(), &expiry_of_event(1_800_000_000).to_string());
        let read = event(item).unwrap();
        assert_eq!((read.kind, read.key_id.as_deref()), (EventType::KeyRenamed, Some("key_1")));
        assert_eq!(read.data, serde_json::json!({"from": "a", "to": "b"}));
        assert_eq!((read.source_ip.as_deref(), read.user_agent.as_deref()), (Some("198.51.100.7"), Some("curl/8")));
        assert_eq!(read.actor, Actor::user("uid_1"));
        // Without a key, IP or agent, those attributes are absent, not empty.
        let put =
            store.event_put("org_1", None, &Change::OrgCreated, &Audit::new(Actor::github_secret_scanning(), "r", 0));
        let item = put.unwrap().put().unwrap().item().clone();
        assert!(!item.contains_key("key_id") && !item.contains_key("source_ip") && !item.contains_key("actor_id"));
        let mut unknown = item.clone();
        unknown.insert("actor_type".into(), s("robot"));
        assert!(event(&unknown).is_err());
        let mut nameless = item.clone();
        nameless.insert("actor_type".into(), s("user"));
        assert!(event(&nameless).is_err(), "a user without an id is not an actor");
    }
}
