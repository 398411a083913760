//! API keys: `sk_live_` + 22 random base62 characters + a 6-character base62 CRC-32 checksum.
//!
//! The checksum lets every caller (the authorizer, `/verify`, secret scanners) reject typos and
//! garbage offline, so a malformed key never costs a DynamoDB read.

use std::fmt;

use rand::TryRngCore;
use rand::distr::{Alphanumeric, Distribution};
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The literal every live key starts with.
pub const KEY_PREFIX: &str = "sk_live_";
/// Total length of a key.
pub const KEY_LEN: usize = 36;
/// Random characters after the prefix (22 × log2(62) ≈ 131 bits).
pub const RANDOM_LEN: usize = 22;
/// Base62 checksum characters at the end.
pub const CHECKSUM_LEN: usize = 6;
/// Characters shown in listings (`sk_live_` + 4): enough to tell keys apart, far too few to use.
pub const DISPLAY_PREFIX_LEN: usize = 12;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a string is not a well-formed API key. None of these needs a database read to decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the API key is empty")]
    Empty,
    #[error("an API key is {KEY_LEN} characters long, this one is {0} bytes")]
    WrongLength(usize),
    #[error("an API key starts with `sk_live_`")]
    WrongPrefix,
    #[error("an API key contains only the characters 0-9, A-Z and a-z after its prefix")]
    InvalidCharacter,
    #[error("the API key's checksum does not match (mistyped or truncated key?)")]
    BadChecksum,
}

/// A syntactically valid API key. Its `Debug` shows only the display prefix, so a key that ends up
/// in a log line through `{:?}` does not leak.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A new key from the OS CSPRNG, uniform over the alphabet.
    pub fn generate() -> Self {
        let mut rng = OsRng.unwrap_err();
        let mut key = String::with_capacity(KEY_LEN);
        key.push_str(KEY_PREFIX);
        // `Alphanumeric` rejects samples instead of reducing modulo 62, so there is no bias.
        key.extend(Alphanumeric.sample_iter(&mut rng).take(RANDOM_LEN).map(char::from));
        let checksum = checksum(key.as_bytes());
        key.push_str(&checksum);
        ApiKey(key)
    }

    /// Validates shape and checksum. Total: every input gets `Ok` or a typed error.
    pub fn parse(input: &str) -> Result<Self, KeyFormatError> {
        let bytes = input.as_bytes();
        if bytes.is_empty() {
            return Err(KeyFormatError::Empty);
        }
        if bytes.len() != KEY_LEN {
            return Err(KeyFormatError::WrongLength(bytes.len()));
        }
        if !input.starts_with(KEY_PREFIX) {
            return Err(KeyFormatError::WrongPrefix);
        }
        let body = &bytes[KEY_PREFIX.len()..];
        if !body.iter().all(u8::is_ascii_alphanumeric) {
            return Err(KeyFormatError::InvalidCharacter);
        }
        let (head, tail) = bytes.split_at(KEY_LEN - CHECKSUM_LEN);
        if checksum(head).as_bytes() != tail {
            return Err(KeyFormatError::BadChecksum);
        }
        Ok(ApiKey(input.to_owned()))
    }

    /// The raw key. Call only to put it in the one response that creates it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// `sha256(key)`, the only form ever stored.
    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }

    /// The first 12 characters, safe to show in listings.
    pub fn display_prefix(&self) -> &str {
        &self.0[..DISPLAY_PREFIX_LEN]
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}…)", self.display_prefix())
    }
}

/// Lowercase hex sha256 of a whole key: the partition key of the keys table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    /// `sha256` of any text: a key's hash, or what secret scanning reports for any token.
    pub fn of(key: &str) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(HEX[(byte >> 4) as usize] as char);
            hex.push(HEX[(byte & 0xf) as usize] as char);
        }
        KeyHash(hex)
    }

    /// Wraps a stored hash (already validated as 64 lowercase hex characters by whoever wrote it).
    pub fn from_stored(hex: String) -> Self {
        KeyHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// CRC-32 (IEEE) of `head`, as 6 base62 digits, most significant first, left-padded with `0`.
fn checksum(head: &[u8]) -> String {
    let mut n = crc32fast::hash(head) as u64;
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    // 62^6 > 2^32, so six digits always hold the whole CRC.
    debug_assert_eq!(n, 0);
    String::from_utf8(digits.to_vec()).expect("base62 digits are ASCII")
}

/// Random base62 characters from the OS CSPRNG, uniform (no modulo bias).
pub fn random_base62(len: usize) -> String {
    let mut rng = OsRng.unwrap_err();
    Alphanumeric.sample_iter(&mut rng).take(len).map(char::from).collect()
}

/// `n` in base62, left-padded with `0` to `width` digits (more digits if it does not fit).
pub(crate) fn base62(mut n: u64, width: usize) -> String {
    let mut out = Vec::with_capacity(width);
    while n > 0 {
        out.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).expect("base62 digits are ASCII")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_key_shape(s: &str) -> bool {
        s.len() == 36 && s.starts_with("sk_live_") && s[8..].bytes().all(|b| b.is_ascii_alphanumeric())
    }

    #[test]
    fn generated_keys_have_the_contract_shape_and_pass_their_checksum() {
        for _ in 0..1000 {
            let key = ApiKey::generate();
            assert!(is_key_shape(key.expose_secret()), "{key:?}");
            assert_eq!(ApiKey::parse(key.expose_secret()), Ok(key.clone()));
            assert_eq!(key.display_prefix(), &key.expose_secret()[..12]);
        }
    }

    #[test]
    fn checksum_is_base62_crc32_of_the_first_30_characters() {
        let key = ApiKey::generate();
        let s = key.expose_secret();
        let mut n = crc32fast::hash(&s.as_bytes()[..30]) as u64;
        let mut expected = Vec::new();
        for _ in 0..6 {
            expected.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expected.reverse();
        assert_eq!(&s.as_bytes()[30..], &expected[..]);
        // The standard CRC-32 check value: crc32("123456789") = 0xCBF43926.
        assert_eq!(checksum(b"123456789"), base62(0xCBF4_3926, 6));
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 6), "00000z");
        assert_eq!(base62(62, 6), "000010");
        assert_eq!(base62(u32::MAX as u64, 6), "4gfFC3");
    }

    #[test]
    fn every_single_character_substitution_is_rejected() {
        let key = ApiKey::generate();
        let original = key.expose_secret().as_bytes().to_vec();
        let alphabet: Vec<u8> = BASE62.iter().copied().chain(*b"_-+/ ").collect();
        for pos in 0..KEY_LEN {
            for &c in &alphabet {
                if c == original[pos] {
                    continue;
                }
                let mut mutated = original.clone();
                mutated[pos] = c;
                let s = String::from_utf8(mutated).unwrap();
                assert!(ApiKey::parse(&s).is_err(), "accepted {pos} -> {}", c as char);
            }
        }
    }

    #[test]
    fn hundred_thousand_keys_are_distinct_and_uniform() {
        let n = 100_000;
        let mut seen = HashSet::with_capacity(n);
        let mut counts = [0u64; 62];
        for _ in 0..n {
            let key = ApiKey::generate();
            for b in key.expose_secret()[8..30].bytes() {
                let idx = BASE62.iter().position(|&x| x == b).unwrap();
                counts[idx] += 1;
            }
            assert!(seen.insert(key.expose_secret().to_owned()));
        }
        let total = (n * RANDOM_LEN) as f64;
        let expected = total / 62.0;
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
        // 61 degrees of freedom: the 99.99th percentile is about 114. A modulo-biased sampler
        // (bytes % 62) over this many draws lands far above it.
        assert!(chi2 < 114.0, "chi-square {chi2} over 61 d.o.f.");
    }

    #[test]
    fn hash_is_sha256_hex_of_the_whole_key() {
        // sha256("abc") from FIPS 180-2.
        assert_eq!(KeyHash::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let key = ApiKey::generate();
        let hex = key.hash();
        assert_eq!(hex.as_str().len(), 64);
        assert!(hex.as_str().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(hex, KeyHash::of(key.expose_secret()));
    }

    #[test]
    fn malformed_inputs_get_typed_errors() {
        let good = ApiKey::generate();
        let g = good.expose_secret();
        assert_eq!(ApiKey::parse(""), Err(KeyFormatError::Empty));
        assert_eq!(ApiKey::parse(&g[..35]), Err(KeyFormatError::WrongLength(35)));
        assert_eq!(ApiKey::parse(&format!("{g}0")), Err(KeyFormatError::WrongLength(37)));
        assert_eq!(ApiKey::parse(&g.replace("sk_live_", "sk_test_")), Err(KeyFormatError::WrongPrefix));
        assert_eq!(ApiKey::parse(&g.replace("sk_live_", "SK_LIVE_")), Err(KeyFormatError::WrongPrefix));
        // Non-ASCII of the same byte length: two 2-byte characters in place of four ASCII ones.
        let non_ascii = format!("{}éé{}", &g[..20], &g[24..]);
        assert_eq!(non_ascii.len(), 36);
        assert_eq!(ApiKey::parse(&non_ascii), Err(KeyFormatError::InvalidCharacter));
        let non_ascii_longer = format!("{}é{}", &g[..20], &g[21..]);
        assert_eq!(ApiKey::parse(&non_ascii_longer), Err(KeyFormatError::WrongLength(37)));
        let inner_space = format!("{} {}", &g[..20], &g[21..]);
        assert_eq!(ApiKey::parse(&inner_space), Err(KeyFormatError::InvalidCharacter));
        let nul = format!("{}\0{}", &g[..20], &g[21..]);
        assert_eq!(ApiKey::parse(&nul), Err(KeyFormatError::InvalidCharacter));
        let huge = "a".repeat(10 * 1024);
        assert_eq!(ApiKey::parse(&huge), Err(KeyFormatError::WrongLength(10 * 1024)));
        let bad_sum = format!("{}000000", &g[..30]);
        if bad_sum != g {
            assert_eq!(ApiKey::parse(&bad_sum), Err(KeyFormatError::BadChecksum));
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = ApiKey::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.expose_secret()));
        assert!(shown.contains(key.display_prefix()));
    }
}
