//! Every request body parser (secret-scanning deliveries included; the lists of restricted keys
//! in create, roll and PATCH bodies), the list and events query parsers on `k=v&…` text, and the
//! restriction parsers on their own (a permission, a network, a source address, the authorizer
//! context's comma-separated lists a downstream service reads).
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
        use overten::restrictions::{Permission, Restrictions, is_format_slug, networks};
        let _ = Permission::parse(text);
        let _ = is_format_slug(text);
        if let Some(net) = networks::parse_network(text) {
            // Canonical form is a fixed point.
            assert_eq!(networks::parse_network(&net.to_string()), Some(net), "{text:?}");
        }
        if let Some(source) = networks::parse_source(text) {
            let _ = networks::allows(&[], source);
        }
        if let Ok(context) = Restrictions::from_authorizer_context(Some(text), Some(text)) {
            let _ = context.check_action(Permission::parse("files:write"), Some(text));
        }
    }
});
