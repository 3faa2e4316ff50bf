//! Base64 (standard alphabet, padded) for fixed-size byte arrays in JSON and in checkpoint
//! text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// Encodes bytes as standard, padded base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard, padded base64 into exactly `N` bytes.
pub fn decode_fixed<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = STANDARD.decode(text.as_bytes()).ok()?;
    <[u8; N]>::try_from(bytes.as_slice()).ok()
}

/// `#[serde(with = "b64::fixed")]` for `[u8; N]`.
pub mod fixed {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as a base64 string.
    pub fn serialize<S: Serializer, const N: usize>(v: &[u8; N], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(v))
    }

    /// Deserializes a base64 string of exactly `N` bytes.
    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = String::deserialize(d)?;
        super::decode_fixed::<N>(&text)
            .ok_or_else(|| serde::de::Error::custom(format_args!("expected base64 of {N} bytes")))
    }
}

/// `#[serde(with = "b64::vec32")]` for `Vec<[u8; 32]>` (a JSON array of base64 strings).
pub mod vec32 {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serializes as an array of base64 strings.
    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for h in v {
            seq.serialize_element(&super::encode(h))?;
        }
        seq.end()
    }

    /// Deserializes an array of base64 strings of 32 bytes each.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        items
            .iter()
            .map(|t| {
                super::decode_fixed::<32>(t)
                    .ok_or_else(|| serde::de::Error::custom("expected base64 of 32 bytes"))
            })
            .collect()
    }
}
