//! The small pieces that both tenantry's runner and its sandbox speak, kept here so that
//! neither crate reaches into the other:
//!
//! - [`jwt`]: RSA-signed JSON Web Tokens (RS256, PS256), certificates and their thumbprints,
//!   which the client signs as assertions and the sandbox issues and verifies;
//! - [`calendar`]: proleptic Gregorian day arithmetic for `DateTime` values on both sides;
//! - [`duration`]: durations as typed on the command line (`250ms`, `1.5s`, `60m`);
//! - [`signal`]: Ctrl-C and SIGTERM, for the commands that stop cleanly.
//!
//! It depends on nothing of tenantry's and holds no policy: what a token must contain, or what
//! a date means to Exchange Online, is decided by the crate that uses it.

pub mod calendar;
pub mod duration;
pub mod jwt;
pub mod signal;

/// The bytes in one of Exchange's size units (`B`, `KB`, `MB`, `GB`, `TB`, binary multiples, in
/// any case; no unit is bytes), as `ByteQuantifiedSize` reads them.
pub fn bytes_per_unit(unit: &str) -> Option<u64> {
    match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => Some(1),
        "KB" => Some(1 << 10),
        "MB" => Some(1 << 20),
        "GB" => Some(1 << 30),
        "TB" => Some(1 << 40),
        _ => None,
    }
}

/// The first 8 bytes of the SHA-256 of `text`, as a number: a stable hash of a name or key,
/// the same on every machine and in every version (unlike the standard library's hasher).
pub fn sha256_u64(text: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// `s` after a count other than one: "1 task", "2 tasks".
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
