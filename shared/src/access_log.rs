//! Values a client sends, made fit for API Gateway's JSON access log.
//!
//! API Gateway inserts `$context` values into the access-log format as they are (README, "Logs"),
//! so a client's text must never reach it unchanged: a quote or a backslash would break the line
//! or forge a field. The authorizer hands such values over in its `context` map
//! (`$context.authorizer.<key>`), after [`escape`]: printable ASCII stays, every other byte is
//! `%XX`, so what is logged can sit between a JSON string's quotes and still says what was sent
//! (percent-decoding gives the original bytes back, up to [`MAX_LEN`]).

use http::HeaderMap;

/// Longest escaped value: a `User-Agent` header can be 8 KiB, an access-log line stays small.
pub const MAX_LEN: usize = crate::audit::MAX_USER_AGENT_CHARS;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Whether `byte` is logged as it is: printable ASCII (space to `~`) except `"` and `\`, which end
/// or escape a JSON string, and `%`, which starts an escape of ours.
fn is_kept(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && !matches!(byte, b'"' | b'\\' | b'%')
}

/// `raw` with every byte that is not kept ([`is_kept`]: control characters, DEL, non-ASCII, `"`,
/// `\`, `%`) as `%XX` (upper-case hex, like URL encoding), cut to [`MAX_LEN`] characters before an
/// escape that would not fit whole. One allocation, the size of the answer for a clean value.
pub fn escape(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_LEN));
    for &byte in raw {
        if is_kept(byte) {
            if out.len() == MAX_LEN {
                break;
            }
            out.push(char::from(byte));
        } else {
            if out.len() + 3 > MAX_LEN {
                break;
            }
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// The request's `User-Agent`, [`escape`]d; `None` when there is none or it is empty.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers.get(http::header::USER_AGENT).map(|v| v.as_bytes()).filter(|v| !v.is_empty()).map(escape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_clean_user_agent_is_kept_as_it_is() {
        for agent in [
            "curl/8.5.0",
            "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
            "a b ~!#$&'()*+,/:;<=>?@[]^_`{|}",
        ] {
            let escaped = escape(agent.as_bytes());
            assert_eq!(escaped, agent);
            assert_eq!(escaped.capacity(), agent.len(), "one allocation of the answer's size");
        }
    }

    #[test]
    fn quotes_backslashes_and_percents_are_escaped() {
        assert_eq!(escape(br#"quote" and ""#), "quote%22 and %22");
        assert_eq!(escape(br#"x","keyId":"key_forged"#), "x%22,%22keyId%22:%22key_forged");
        assert_eq!(escape(br"back\slash\"), "back%5Cslash%5C");
        assert_eq!(escape(br#"\""#), "%5C%22");
        // `%` too, so the value decodes unambiguously: a client's own `%22` stays three characters.
        assert_eq!(escape(b"100%22"), "100%2522");
    }

    #[test]
    fn control_characters_and_del_are_escaped() {
        assert_eq!(escape(b"tab\there"), "tab%09here");
        assert_eq!(escape(b"new\nline\rreturn\0nul\x1besc\x7fdel\x08"), "new%0Aline%0Dreturn%00nul%1Besc%7Fdel%08");
        assert_eq!(escape(b"\x01\x1f"), "%01%1F");
    }

    #[test]
    fn non_ascii_is_escaped_byte_by_byte() {
        assert_eq!(escape("é ✓".as_bytes()), "%C3%A9 %E2%9C%93");
        // U+2028 and U+2029 end a line in JavaScript.
        assert_eq!(escape("\u{2028}\u{2029}".as_bytes()), "%E2%80%A8%E2%80%A9");
        // Not UTF-8 at all (HTTP's obs-text).
        assert_eq!(escape(&[0xff, 0x80]), "%FF%80");
    }

    #[test]
    fn a_long_value_is_cut_before_an_escape_that_does_not_fit() {
        let long = "a".repeat(8192);
        assert_eq!(escape(long.as_bytes()), "a".repeat(MAX_LEN));
        // 254 kept characters, then a quote: its escape would end at 257, so it is left out whole.
        let quoted = format!("{}\"b", "a".repeat(MAX_LEN - 2));
        assert_eq!(escape(quoted.as_bytes()), "a".repeat(MAX_LEN - 2));
        let quoted = format!("{}\"b", "a".repeat(MAX_LEN - 3));
        assert_eq!(escape(quoted.as_bytes()), format!("{}%22", "a".repeat(MAX_LEN - 3)));
        let escapes = escape(&[b'"'; 200]);
        assert_eq!(escapes.len(), 255, "85 whole escapes");
        assert!(escapes.ends_with("%22"));
    }

    #[test]
    fn a_missing_or_empty_user_agent_is_none() {
        let mut headers = HeaderMap::new();
        assert_eq!(user_agent(&headers), None);
        headers.insert(http::header::USER_AGENT, http::HeaderValue::from_static(""));
        assert_eq!(user_agent(&headers), None);
        headers.insert(http::header::USER_AGENT, http::HeaderValue::from_bytes(b"x\"\t\xc3\xa9").unwrap());
        assert_eq!(user_agent(&headers).as_deref(), Some("x%22%09%C3%A9"));
    }

    /// Percent-decoding, to check that nothing is lost but the tail.
    fn unescape(escaped: &str) -> Vec<u8> {
        let bytes = escaped.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&escaped[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the bytes: at most MAX_LEN printable ASCII characters without `"` or `\`, that
        /// sit inside a JSON string as they are (no field broken, none forged) and decode to a
        /// prefix of the input, all of it when it fits.
        #[test]
        fn any_bytes_make_one_json_string(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
            let escaped = escape(&raw);
            prop_assert!(escaped.len() <= MAX_LEN);
            prop_assert!(escaped.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'));
            let line = format!(r#"{{"userAgent":"{escaped}","keyId":"key_1"}}"#);
            let parsed: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line).unwrap();
            prop_assert_eq!(parsed.len(), 2);
            prop_assert_eq!(parsed["userAgent"].as_str(), Some(escaped.as_str()));
            prop_assert_eq!(parsed["keyId"].as_str(), Some("key_1"));
            let decoded = unescape(&escaped);
            prop_assert!(raw.starts_with(&decoded));
            if raw.iter().map(|&b| if is_kept(b) { 1 } else { 3 }).sum::<usize>() <= MAX_LEN {
                prop_assert_eq!(decoded, raw);
            } else {
                // Cut only where the next byte's form would not fit.
                let next = raw[decoded.len()];
                let width = if is_kept(next) { 1 } else { 3 };
                prop_assert!(escaped.len() + width > MAX_LEN, "cut early");
            }
        }
    }
}
