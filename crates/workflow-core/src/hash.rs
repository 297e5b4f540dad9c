//! Content hashes of workflow sources (a changed file under the same version is caught by
//! them) and of requests (an idempotency key reused for another request is caught by them).

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

#[cfg(test)]
#[test]
fn hashes_are_lowercase_hex_as_stored() {
    // The content hashes registered with each workflow version are compared as text.
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
