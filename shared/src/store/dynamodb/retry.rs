//! Our retries around DynamoDB: cancelled transactions (conflicts, throttling) and unprocessed
//! batch keys, within a time budget; and the mapping of SDK errors to 503 or 500.

use std::fmt::Debug;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use rand::TryRngCore;

use crate::error::Error;

/// Transactions on one org's `META` item conflict when keys are created in parallel; DynamoDB
/// cancels them with `TransactionConflict` (or, under load, with a throttling reason) and the SDK
/// does not retry a cancelled transaction, so we do, within the retry budget; the same budget
/// bounds re-reading a batch's unprocessed keys.
const CONFLICT_RETRIES: u32 = 12;

/// Why DynamoDB cancelled a transaction, from its cancellation reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancellation {
    /// Another transaction touched the same item: retry.
    Conflict,
    /// Throttled (`ThrottlingError`, `ProvisionedThroughputExceeded`, `RequestLimitExceeded`):
    /// retry with backoff, then 503. Never a failed condition.
    Throttled,
    /// A condition failed (or a validation error): the caller interprets the reasons.
    Conditions,
}

pub(crate) fn classify(reasons: &[CancellationReason]) -> Cancellation {
    let codes = || reasons.iter().filter_map(|r| r.code());
    if codes().any(|c| matches!(c, "ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded")) {
        Cancellation::Throttled
    } else if codes().any(|c| c == "TransactionConflict") {
        Cancellation::Conflict
    } else {
        Cancellation::Conditions
    }
}

/// Sends a transaction until it succeeds, a condition fails, or conflicts and throttling outlast
/// `budget` (jittered backoff between attempts) — then `Unavailable` (503).
pub(crate) async fn retry_transaction<F, Fut, O, R>(
    mut send: F,
    budget: Duration,
) -> Result<Result<(), Vec<CancellationReason>>, Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<O, SdkError<TransactWriteItemsError, R>>>,
    R: Debug,
{
    let mut retries = RetryBudget::new(budget);
    loop {
        let err = match send().await {
            Ok(_) => return Ok(Ok(())),
            Err(err) => err,
        };
        if let SdkError::ServiceError(service) = &err
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
        {
            let reasons = cancelled.cancellation_reasons().to_vec();
            let why = classify(&reasons);
            if why == Cancellation::Conditions {
                return Ok(Err(reasons));
            }
            if !retries.wait().await {
                let attempts = retries.attempt;
                return Err(Error::Unavailable(format!("transaction cancelled ({why:?}) after {attempts} attempts")));
            }
            continue;
        }
        return Err(sdk_error("TransactWriteItems", err));
    }
}

/// Our own retries (cancelled transactions, unprocessed batch keys): jittered exponential backoff
/// for at most `CONFLICT_RETRIES` attempts and never past the function's retry budget.
pub(super) struct RetryBudget {
    started: tokio::time::Instant,
    budget: Duration,
    pub(super) attempt: u32,
}

impl RetryBudget {
    pub(super) fn new(budget: Duration) -> Self {
        RetryBudget { started: tokio::time::Instant::now(), budget, attempt: 0 }
    }

    /// Sleeps before the next attempt, or `false` when the attempts or the budget are spent.
    pub(super) async fn wait(&mut self) -> bool {
        self.attempt += 1;
        let pause = backoff(self.attempt);
        if self.attempt > CONFLICT_RETRIES || self.started.elapsed() + pause > self.budget {
            return false;
        }
        tokio::time::sleep(pause).await;
        true
    }
}

/// Jittered exponential backoff: 10 ms, 20 ms, … capped at 500 ms.
fn backoff(attempt: u32) -> Duration {
    let base = 10u64.saturating_mul(1 << attempt.min(6)).min(500);
    let jitter = u64::from(rand::rngs::OsRng.try_next_u32().unwrap_or(0)) % base.max(1);
    Duration::from_millis(base / 2 + jitter / 2)
}

pub(super) fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::Internal(format!("request build: {err}"))
}

/// Throttling, timeouts and unreachable endpoints are `Unavailable` (503; the authorizer fails
/// closed); anything else is `Internal`.
pub(crate) fn sdk_error<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug,
{
    let unavailable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            matches!(
                service.err().code(),
                Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            )
        }
        _ => false,
    };
    let detail = format!("{operation}: {}", DisplayErrorContext(&err));
    if unavailable { Error::Unavailable(detail) } else { Error::Internal(detail) }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::types::error::{
        ProvisionedThroughputExceededException, ResourceNotFoundException, TransactionCanceledException,
    };

    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    /// A cancelled transaction as the SDK surfaces it, its reasons in item order.
    fn cancelled(codes: &[&str]) -> SdkError<TransactWriteItemsError, ()> {
        let exception = TransactionCanceledException::builder()
            .set_cancellation_reasons(Some(codes.iter().map(|c| reason(c)).collect()))
            .build();
        SdkError::service_error(TransactWriteItemsError::TransactionCanceledException(exception), ())
    }

    #[test]
    fn cancellation_reasons_are_classified() {
        let of = |codes: &[&str]| classify(&codes.iter().map(|c| reason(c)).collect::<Vec<_>>());
        assert_eq!(of(&["None", "ThrottlingError"]), Cancellation::Throttled);
        assert_eq!(of(&["ProvisionedThroughputExceeded", "None"]), Cancellation::Throttled);
        assert_eq!(of(&["RequestLimitExceeded"]), Cancellation::Throttled);
        // Throttling wins over a failed condition: the condition may not even have been evaluated.
        assert_eq!(of(&["ConditionalCheckFailed", "ThrottlingError"]), Cancellation::Throttled);
        assert_eq!(of(&["TransactionConflict", "None"]), Cancellation::Conflict);
        assert_eq!(of(&["ConditionalCheckFailed", "None"]), Cancellation::Conditions);
        assert_eq!(of(&["None", "ValidationError"]), Cancellation::Conditions);
    }

    #[tokio::test(start_paused = true)]
    async fn throttled_transactions_are_retried_then_answered_503() {
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            async { Err::<(), _>(cancelled(&["None", "ThrottlingError"])) }
        };
        let err = retry_transaction(send, Duration::from_secs(3)).await.unwrap_err();
        assert_eq!((err.status(), err.code()), (503, "service_unavailable"));
        assert!(attempts.get() > 3, "retried: {} attempts", attempts.get());

        // Throttled twice, then through: the caller sees success.
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            let n = attempts.get();
            async move { if n < 3 { Err(cancelled(&["ProvisionedThroughputExceeded"])) } else { Ok(()) } }
        };
        assert!(matches!(retry_transaction(send, Duration::from_secs(3)).await, Ok(Ok(()))));
        assert_eq!(attempts.get(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_within_the_budget() {
        let started = tokio::time::Instant::now();
        let send = || async { Err::<(), _>(cancelled(&["TransactionConflict"])) };
        let err = retry_transaction(send, Duration::from_millis(300)).await.unwrap_err();
        assert_eq!(err.code(), "service_unavailable");
        assert!(started.elapsed() <= Duration::from_millis(300), "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_condition_is_returned_at_once_not_retried() {
        let attempts = Cell::new(0);
        let send = || {
            attempts.set(attempts.get() + 1);
            async { Err::<(), _>(cancelled(&["ConditionalCheckFailed", "None"])) }
        };
        let reasons = retry_transaction(send, Duration::from_secs(3)).await.unwrap().unwrap_err();
        assert_eq!(attempts.get(), 1);
        let codes: Vec<_> = reasons.iter().map(|r| r.code()).collect();
        assert_eq!(codes, [Some("ConditionalCheckFailed"), Some("None")], "the reasons, as DynamoDB gave them");
    }

    #[test]
    fn sdk_errors_map_to_503_or_500() {
        // As the SDK parses DynamoDB's answer: the exception with its error code in the metadata.
        let meta =
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("ProvisionedThroughputExceededException").build();
        let throttled = GetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder().message("slow down").meta(meta).build(),
        );
        let err = sdk_error("GetItem", SdkError::<GetItemError, ()>::service_error(throttled, ()));
        assert_eq!(err.status(), 503);
        let timeout = sdk_error("GetItem", SdkError::<GetItemError, ()>::timeout_error("operation timeout"));
        assert_eq!(timeout.status(), 503);
        let missing = GetItemError::ResourceNotFoundException(ResourceNotFoundException::builder().build());
        let other = sdk_error("GetItem", SdkError::<GetItemError, ()>::service_error(missing, ()));
        assert_eq!(other.status(), 500);
    }
}
