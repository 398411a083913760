//! The usage routes' reads: a key's days (one query of its partition) and the org's days per key
//! (one query of the org's index). Each loop over pages is bounded.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::super::items::{Item, get_n, get_s, s};
use super::super::retry::sdk_error;
use super::item::{org_key, read_day};
use super::{DynamoUsage, ORG_INDEX};
use crate::error::Error;
use crate::store::ReadUsage;
use crate::usage::DayUsage;
use crate::usage::report::{DayRange, OrgDay};

/// Pages one read may take. A key's 122 days (92 + the 30 before, for `new`) of at most ~100 KB
/// fit in 13 pages of 1 MB; an org's index items are ~100 bytes, ~10,000 to a page.
const MAX_PAGES: usize = 64;

impl ReadUsage for DynamoUsage {
    async fn key_days(&self, org_id: &str, key_id: &str, range: DayRange) -> Result<BTreeMap<String, DayUsage>, Error> {
        let items = self
            .query_pages(|q| {
                q.key_condition_expression("org_key = :pk AND #day BETWEEN :from AND :to")
                    .expression_attribute_names("#day", "day")
                    .expression_attribute_values(":pk", s(&org_key(org_id, key_id)))
                    .expression_attribute_values(":from", s(&range.from_day()))
                    .expression_attribute_values(":to", s(&range.to_day()))
                    .projection_expression("#day, detail, version")
            })
            .await?;
        let mut days = BTreeMap::new();
        for item in items {
            days.insert(get_s(&item, "day")?, read_day(&item)?.0);
        }
        Ok(days)
    }

    async fn org_days(&self, org_id: &str, range: DayRange) -> Result<Vec<(String, OrgDay)>, Error> {
        let items = self
            .query_pages(|q| {
                q.index_name(ORG_INDEX)
                    .key_condition_expression("org_id = :org AND day_key BETWEEN :from AND :to")
                    .expression_attribute_values(":org", s(org_id))
                    .expression_attribute_values(":from", s(&format!("{}#", range.from_day())))
                    .expression_attribute_values(":to", s(&format!("{}#~", range.to_day())))
                    .projection_expression("key_id, #day, requests, refused")
                    .expression_attribute_names("#day", "day")
            })
            .await?;
        items
            .iter()
            .map(|item| {
                let day = OrgDay {
                    date: get_s(item, "day")?,
                    requests: get_n(item, "requests").unwrap_or(0).max(0) as u64,
                    refused: get_n(item, "refused").unwrap_or(0).max(0) as u64,
                };
                Ok((get_s(item, "key_id")?, day))
            })
            .collect()
    }
}

impl DynamoUsage {
    /// Every page of a query, at most [`MAX_PAGES`] (then 503: a read that large is a bug).
    async fn query_pages(
        &self,
        shape: impl Fn(
            aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, Error> {
        let mut items = Vec::new();
        let mut start: Option<std::collections::HashMap<String, AttributeValue>> = None;
        for _ in 0..MAX_PAGES {
            let out = shape(self.client.query().table_name(&self.table))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => return Ok(items),
            }
        }
        Err(Error::Unavailable(format!("usage query past {MAX_PAGES} pages")))
    }
}
