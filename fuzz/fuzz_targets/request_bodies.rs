//! Every request body parser, and the list query parser on `k=v&…` text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overten::requests::{CreateKeyRequest, SignupRequest, parse_list_query};

fuzz_target!(|data: &[u8]| {
    let _ = SignupRequest::parse(data);
    let _ = CreateKeyRequest::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs = text.split('&').map(|p| p.split_once('=').unwrap_or((p, "")));
        let _ = parse_list_query(pairs);
    }
});
