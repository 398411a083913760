//! A `TransactWriteItems` whose items are added with the name of their step, so a cancellation
//! is mapped to its cause by name (`cancelled.failed(Step::Membership)`), never by position:
//! adding an item to a transaction cannot silently renumber the checks of the others.

#[cfg(any(test, feature = "testing"))]
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck};
use aws_sdk_dynamodb::types::{CancellationReason, TransactWriteItem};

use super::items::Item;
#[cfg(feature = "testing")]
use super::retry::build_error;
#[cfg(feature = "testing")]
use crate::error::Error;

/// What an item of a transaction does. One transaction may hold several items of one step (a
/// new key's two puts); a step failed when any of its items' conditions failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The actor is a member of the org (a condition check).
    Membership,
    /// The person's count of orgs created (signup).
    OrgCount,
    /// A new org's `META` and owner membership (signup, the CLI's `org create`).
    NewOrg,
    /// The org's `META`: API access, the active-key count.
    OrgMeta,
    /// The org's grace count, on its `META` (a roll with grace).
    GraceCount,
    /// The key's item in the org's partition (`KEY#` or `REVOKED#`): changed, or removed.
    OrgKey,
    /// The key's ended copy (`REVOKED#`), put where its `KEY#` item was removed.
    EndedCopy,
    /// The key's `ApiKeys` item, changed.
    KeyRecord,
    /// A new key's two items.
    NewKey,
    /// The change's audit event.
    Event,
    /// Key usage: the marker of a batch's chunk, put once (a batch delivered again adds nothing).
    UsageBatch,
    /// Key usage: a (key, day) item, conditioned on the version it was read at.
    UsageDay,
    /// Tests only: an item that changes nothing, put among the others.
    #[cfg(feature = "testing")]
    Padding,
}

#[derive(Default)]
pub(super) struct Transaction {
    items: Vec<TransactWriteItem>,
    steps: Vec<Step>,
}

impl Transaction {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn push(&mut self, step: Step, item: TransactWriteItem) -> &mut Self {
        self.items.push(item);
        self.steps.push(step);
        self
    }

    pub(super) fn extend(&mut self, step: Step, items: impl IntoIterator<Item = TransactWriteItem>) -> &mut Self {
        for item in items {
            self.push(step, item);
        }
        self
    }

    /// Tests only: an item that changes nothing (a check that a never-written item is absent) put
    /// second, so every step but the first moves, to show that no cancellation is read by
    /// position.
    #[cfg(feature = "testing")]
    pub(super) fn pad(&mut self, table: &str) -> Result<(), Error> {
        let check = ConditionCheck::builder()
            .table_name(table)
            .key("org_id", AttributeValue::S("PADDING".into()))
            .key("sk", AttributeValue::S(format!("PADDING#{}", crate::api_key::random_base62(16))))
            .condition_expression("attribute_not_exists(sk)")
            .build()
            .map_err(build_error)?;
        let middle = self.items.len().min(1);
        self.items.insert(middle, TransactWriteItem::builder().condition_check(check).build());
        self.steps.insert(middle, Step::Padding);
        Ok(())
    }

    pub(super) fn items(&self) -> &[TransactWriteItem] {
        &self.items
    }

    #[cfg(test)]
    pub(super) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The cancellation of this transaction, read by step.
    pub(super) fn cancelled(&self, reasons: Vec<CancellationReason>) -> Cancelled {
        Cancelled { reasons, steps: self.steps.clone() }
    }
}

/// Why DynamoDB cancelled a transaction, by step.
#[derive(Debug)]
pub(super) struct Cancelled {
    reasons: Vec<CancellationReason>,
    steps: Vec<Step>,
}

impl Cancelled {
    /// Tests: a transaction of `steps` cancelled because `failed`'s condition failed, as DynamoDB
    /// reports it (`None` for the others), with `old` as the failed item's old value.
    #[cfg(test)]
    pub(super) fn of(steps: &[Step], failed: Step, old: Option<Item>) -> Self {
        let reasons = steps
            .iter()
            .map(|step| match step == &failed {
                true => CancellationReason::builder().code("ConditionalCheckFailed").set_item(old.clone()).build(),
                false => CancellationReason::builder().code("None").build(),
            })
            .collect();
        Cancelled { reasons, steps: steps.to_vec() }
    }

    fn failed_reasons(&self, step: Step) -> impl Iterator<Item = &CancellationReason> {
        self.steps
            .iter()
            .zip(&self.reasons)
            .filter(move |(s, r)| **s == step && r.code() == Some("ConditionalCheckFailed"))
            .map(|(_, r)| r)
    }

    /// Whether a condition of `step` failed.
    pub(super) fn failed(&self, step: Step) -> bool {
        self.failed_reasons(step).next().is_some()
    }

    /// The item as it was, for a failed `step` sent with `ReturnValuesOnConditionCheckFailure`
    /// (`Some` of an empty item when it did not exist).
    pub(super) fn old_item(&self, step: Step) -> Option<Item> {
        self.failed_reasons(step).next().map(|r| r.item().cloned().unwrap_or_default())
    }

    /// `Step:Code` for every item, for the log.
    pub(super) fn describe(&self) -> String {
        self.steps
            .iter()
            .zip(&self.reasons)
            .map(|(step, r)| format!("{step:?}:{}", r.code().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> TransactWriteItem {
        let check = ConditionCheck::builder()
            .table_name("t")
            .key("k", AttributeValue::S("v".into()))
            .condition_expression("attribute_exists(k)")
            .build()
            .unwrap();
        TransactWriteItem::builder().condition_check(check).build()
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    fn with_old(code: &str, old: Item) -> CancellationReason {
        CancellationReason::builder().code(code).set_item(Some(old)).build()
    }

    #[test]
    fn a_failure_is_found_by_its_step_wherever_the_step_stands() {
        let mut tx = Transaction::new();
        tx.push(Step::Membership, item()).push(Step::OrgMeta, item()).extend(Step::NewKey, [item(), item()]);
        tx.push(Step::Event, item());
        assert_eq!(tx.items().len(), 5);
        let none = "None";
        let cancelled = tx.cancelled(vec![
            reason(none),
            reason(none),
            reason(none),
            reason("ConditionalCheckFailed"),
            reason(none),
        ]);
        assert!(cancelled.failed(Step::NewKey), "the second item of a step counts");
        for step in [Step::Membership, Step::OrgMeta, Step::Event, Step::OrgKey] {
            assert!(!cancelled.failed(step), "{step:?}");
        }
        assert_eq!(
            cancelled.describe(),
            "Membership:None,OrgMeta:None,NewKey:None,NewKey:ConditionalCheckFailed,Event:None"
        );
    }

    #[test]
    fn only_a_failed_condition_is_a_failure() {
        let mut tx = Transaction::new();
        tx.push(Step::Membership, item()).push(Step::OrgMeta, item());
        let cancelled = tx.cancelled(vec![reason("TransactionConflict"), reason("ValidationError")]);
        assert!(!cancelled.failed(Step::Membership) && !cancelled.failed(Step::OrgMeta));
        assert_eq!(cancelled.old_item(Step::OrgMeta), None);
    }

    #[test]
    fn the_old_item_is_that_of_the_failed_step() {
        let mut tx = Transaction::new();
        tx.push(Step::Membership, item()).push(Step::OrgMeta, item());
        let old = Item::from([("api_enabled".to_owned(), AttributeValue::Bool(false))]);
        let cancelled = tx.cancelled(vec![reason("None"), with_old("ConditionalCheckFailed", old.clone())]);
        assert_eq!(cancelled.old_item(Step::OrgMeta), Some(old));
        assert_eq!(cancelled.old_item(Step::Membership), None, "not failed");
        let gone = tx.cancelled(vec![reason("None"), reason("ConditionalCheckFailed")]);
        assert_eq!(gone.old_item(Step::OrgMeta), Some(Item::new()), "no item: it did not exist");
    }

    #[cfg(feature = "testing")]
    #[test]
    fn padding_in_the_middle_moves_every_item_and_no_failure() {
        let mut tx = Transaction::new();
        tx.push(Step::Membership, item()).push(Step::OrgKey, item()).push(Step::KeyRecord, item());
        tx.push(Step::Event, item());
        tx.pad("orgs").unwrap();
        assert_eq!(tx.items().len(), 5);
        let mut reasons = vec![reason("None"); 5];
        // The key record is now fourth: its failure is still the key record's.
        reasons[3] = reason("ConditionalCheckFailed");
        assert_eq!(tx.steps[1], Step::Padding, "second: every step but the first moved");
        let cancelled = tx.cancelled(reasons);
        assert!(cancelled.failed(Step::KeyRecord));
        assert!(!cancelled.failed(Step::OrgKey) && !cancelled.failed(Step::Padding));
        assert!(cancelled.describe().starts_with("Membership:None,Padding:None,OrgKey:None,KeyRecord:"));
    }
}
