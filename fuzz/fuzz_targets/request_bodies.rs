//! Every request body parser (secret-scanning deliveries included), and the list and events
//! query parsers on `k=v&…` text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overten::requests::{
    CreateKeyRequest, RollKeyRequest, SignupRequest, parse_events_query, parse_list_query,
};

fuzz_target!(|data: &[u8]| {
    let now = overten::clock::now_secs();
    let _ = SignupRequest::parse(data);
    let _ = CreateKeyRequest::parse(data, now);
    let _ = RollKeyRequest::parse(data, now);
    let _ = overten::requests::parse_key_update(data);
    let _ = overten::secret_scanning::parse_delivery(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let pairs = || text.split('&').map(|p| p.split_once('=').unwrap_or((p, "")));
        let _ = parse_list_query(pairs());
        let _ = parse_events_query(pairs());
    }
});
