//! Key parsing and header extraction on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = overten::ApiKey::parse(text) {
            assert_eq!(key.expose_secret(), text);
        }
    }
    let split = data.len() / 2;
    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(&data[..split]) {
        headers.insert("x-api-key", v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(&data[split..]) {
        headers.insert("authorization", v);
    }
    let _ = overten::credentials::api_key_from_headers(&headers);
    let _ = overten::credentials::bearer_token(&headers);
});
