//! Which function, and so which IAM role, the code running now belongs to.
//!
//! Each function's `handle` runs inside [`scope`] with its crate's name (the template's
//! `BuildProperties.Binary`). With the `testing` feature the name is kept in a Tokio task-local,
//! so the integration tests' DynamoDB interceptor can attribute every call a handler makes to its
//! function, however the test built the store it shares with its other functions and its own setup
//! code (`tests/support/iam_calls.rs`, checked against `template.yaml` by `tests/iam.rs`). Without
//! the feature, as deployed, [`scope`] only awaits the future.

use std::future::Future;

#[cfg(feature = "testing")]
tokio::task_local! {
    static FUNCTION: &'static str;
}

/// Runs `work` as the function `name`.
pub async fn scope<F: Future>(name: &'static str, work: F) -> F::Output {
    #[cfg(feature = "testing")]
    {
        FUNCTION.scope(name, work).await
    }
    #[cfg(not(feature = "testing"))]
    {
        let _ = name;
        work.await
    }
}

/// The function the current task runs as, if it runs inside a [`scope`].
#[cfg(feature = "testing")]
pub fn current() -> Option<&'static str> {
    FUNCTION.try_with(|name| *name).ok()
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    #[tokio::test]
    async fn the_name_holds_inside_the_scope_only() {
        assert_eq!(super::current(), None);
        let inside = super::scope("keys", async {
            tokio::task::yield_now().await;
            super::current()
        })
        .await;
        assert_eq!(inside, Some("keys"));
        assert_eq!(super::current(), None);
    }
}
