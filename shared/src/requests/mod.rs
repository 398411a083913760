//! Request bodies and query parameters of the contract, with their validation. Parsing never
//! panics: every input gets a value or an `invalid_request` error saying what is wrong.
//!
//! A file per route family: `signup`, `keys` (create, roll, update, `expires_at`), `query` (the
//! listings' query strings); `body` holds what they share (the JSON object reader, names, lists).

mod body;
mod keys;
mod query;
mod signup;

pub use body::{MAX_BODY_BYTES, MAX_KEY_NAME_CHARS, MAX_ORG_NAME_CHARS};
pub use keys::{
    CreateKeyRequest, DEFAULT_GRACE_PERIOD_SECONDS, MAX_EXPIRY_DAYS, MAX_GRACE_PERIOD_SECONDS, RollKeyRequest,
    parse_expiry, parse_key_update,
};
pub use query::{DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT, parse_events_query, parse_list_query};
pub use signup::{DEFAULT_KEY_NAME, SignupRequest};
