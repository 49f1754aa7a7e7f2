//! Content fingerprints: short SHA-256 hashes used to notice change (a job's configuration,
//! a source object since its watermark, the binding of a paging cursor). Not for secrets.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Hex of the first 12 bytes of the SHA-256 of `bytes`.
pub fn fingerprint(bytes: &[u8]) -> String {
    short_hex(&Sha256::digest(bytes))
}

/// The fingerprint of a source object and whether it was in scope, hashed as it serializes
/// (no intermediate copy; a cycle fingerprints every object in the source).
pub fn object_fingerprint(object: &Map<String, Value>, in_scope: bool) -> String {
    let mut hasher = Sha256::new();
    // Serializing JSON values into a hasher cannot fail (the writer never errors).
    if serde_json::to_writer(&mut hasher, object).is_err() {
        hasher.update(b"unserializable");
    }
    hasher.update([u8::from(in_scope)]);
    short_hex(&hasher.finalize())
}

fn short_hex(digest: &[u8]) -> String {
    hex::encode(&digest[..digest.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_tell_scope_apart() {
        assert_eq!(fingerprint(b"abc"), "ba7816bf8f01cfea414140de");
        let object = serde_json::json!({"a": 1}).as_object().cloned().unwrap_or_default();
        assert_ne!(object_fingerprint(&object, true), object_fingerprint(&object, false));
        assert_eq!(object_fingerprint(&object, true).len(), 24);
    }
}
