//! A value that must never be printed: SSH keys, registry passwords, secret env values.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Wraps a sensitive value. `Debug` and `Display` print `[REDACTED]`; the value is
/// reached only through [`Secret::expose`], so every use is visible in review. The memory
/// is overwritten when the value is dropped, so a freed plaintext does not linger in the
/// heap (core dumps, a later allocation's uninitialised bytes).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T: Zeroize = String>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize> ZeroizeOnDrop for Secret<T> {}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de, T: Zeroize + serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
        assert_eq!(s.expose(), "hunter2");
    }

    /// Reading freed memory back is undefined behaviour in Rust, so the wipe is proven by
    /// types instead: this compiles only while `Secret` promises `ZeroizeOnDrop` for the
    /// plaintext types Convoy keeps in it.
    #[test]
    fn secrets_are_wiped_on_drop() {
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<Secret<String>>();
        wiped_on_drop::<Secret<Vec<u8>>>();
    }
}
