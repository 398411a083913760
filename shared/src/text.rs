//! A JSON string borrowed from the payload's text when it can be.
//!
//! serde's own `Cow<str>` only borrows as a field of its own (`#[serde(borrow)]`); inside an
//! `Option`, a map or `next_entry` it always copies (serde-rs/serde#2016). The hot paths' events
//! hold their strings in those, so this visitor takes `visit_borrowed_str` as it is and copies only
//! a string with escapes in it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{Deserialize, Deserializer, Error, Visitor};

/// A string of the event, borrowed from its text unless it held an escape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_unless_it_held_an_escape_in_an_option_and_a_map_too() {
        let text: Option<Text> = serde_json::from_str(r#""/verify""#).unwrap();
        assert!(matches!(text.as_ref().map(|t| &t.0), Some(Cow::Borrowed("/verify"))));
        let escaped: Option<Text> = serde_json::from_str(r#""a\"b""#).unwrap();
        assert!(matches!(escaped.as_ref().map(|t| &t.0), Some(Cow::Owned(s)) if s == "a\"b"));
        let map: std::collections::HashMap<Text, Text> = serde_json::from_str(r#"{"k":"v"}"#).unwrap();
        let (k, v) = map.iter().next().unwrap();
        assert!(matches!((&k.0, &v.0), (Cow::Borrowed("k"), Cow::Borrowed("v"))));
        assert_eq!(&*Text(Cow::Borrowed("x")), "x");
        // A deserializer that hands over owned strings (a `Value`): kept, not emptied.
        let owned = Text::deserialize(serde_json::Value::String("x".into())).unwrap();
        assert!(matches!(owned.0, Cow::Owned(s) if s == "x"));
        assert!(serde_json::from_str::<Text>("5").unwrap_err().to_string().contains("a string"));
    }
}
