//! FNV-1a, the digest the firmware prints of its outputs and the host recomputes to check
//! them: tiny, and the same on every target.

/// FNV-1a (32-bit) of a byte stream.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes.into_iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digests() {
        assert_eq!(super::fnv1a([]), 0x811c_9dc5);
        assert_eq!(super::fnv1a(*b"a"), 0xe40c_292c);
        assert_eq!(super::fnv1a(*b"foobar"), 0xbf9c_f968);
    }
}
