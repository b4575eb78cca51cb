//! Aligned storage for model bytes and arenas: `include_bytes!` and `Vec<u8>` guarantee no
//! alignment, but weights are read in place as f32/i32 and need it.

/// Bytes (or anything) placed at a 16-byte aligned address. Use through
/// [`include_model!`](crate::include_model) for models embedded in flash.
#[repr(C, align(16))]
pub struct Aligned<B: ?Sized>(pub B);

impl<B: ?Sized + AsRef<[u8]>> core::ops::Deref for Aligned<B> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// Embeds a model file in the binary at a 16-byte aligned address and evaluates to
/// `&'static [u8]`, ready for [`Model::parse`](crate::Model::parse).
///
/// ```
/// static MODEL: &[u8] =
///     aedge_runtime::include_model!(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/tiny-int8.aedge"));
/// let model = aedge_runtime::Model::parse(MODEL).unwrap();
/// assert_eq!(model.precision(), aedge_runtime::Precision::Int8);
/// ```
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        static ALIGNED: &$crate::Aligned<[u8]> = &$crate::Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}

/// A statically sized, 16-byte aligned scratch arena.
#[repr(C, align(16))]
pub struct Arena<const N: usize>([u8; N]);

impl<const N: usize> Arena<N> {
    /// A zeroed arena.
    pub const fn new() -> Self {
        Arena([0; N])
    }

    /// The arena as bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const N: usize> AsMut<[u8]> for Arena<N> {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

pub use owned::AlignedBytes;

#[cfg(feature = "alloc")]
mod owned {
    use alloc::vec::Vec;

    #[derive(Clone, Copy)]
    #[repr(C, align(16))]
    struct Block([u8; 16]);

    /// Heap bytes at a 16-byte aligned address: model files read on a host, or an arena.
    #[derive(Clone)]
    pub struct AlignedBytes {
        blocks: Vec<Block>,
        len: usize,
    }

    impl AlignedBytes {
        /// `len` zero bytes (e.g. an arena of [`Model::arena_len`](crate::Model::arena_len)).
        pub fn zeroed(len: usize) -> Self {
            AlignedBytes {
                blocks: alloc::vec![Block([0; 16]); len.div_ceil(16)],
                len,
            }
        }

        /// A copy of `bytes`.
        pub fn copy_from(bytes: &[u8]) -> Self {
            let mut a = Self::zeroed(bytes.len());
            a.as_mut_slice().copy_from_slice(bytes);
            a
        }

        /// The bytes.
        pub fn as_slice(&self) -> &[u8] {
            &bytemuck::cast_slice::<Block, u8>(&self.blocks)[..self.len]
        }

        /// The bytes, mutably.
        pub fn as_mut_slice(&mut self) -> &mut [u8] {
            let len = self.len;
            &mut bytemuck::cast_slice_mut::<Block, u8>(&mut self.blocks)[..len]
        }
    }

    // SAFETY: Block is `repr(C)` around `[u8; 16]`: no padding, and every bit pattern is valid.
    unsafe impl bytemuck::Zeroable for Block {}
    // SAFETY: as above; Block is also Copy and 'static.
    unsafe impl bytemuck::Pod for Block {}

    impl From<Vec<u8>> for AlignedBytes {
        fn from(v: Vec<u8>) -> Self {
            Self::copy_from(&v)
        }
    }

    impl From<&[u8]> for AlignedBytes {
        fn from(v: &[u8]) -> Self {
            Self::copy_from(v)
        }
    }

    impl core::ops::Deref for AlignedBytes {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            self.as_slice()
        }
    }

    impl core::ops::DerefMut for AlignedBytes {
        fn deref_mut(&mut self) -> &mut [u8] {
            self.as_mut_slice()
        }
    }

    impl core::fmt::Debug for AlignedBytes {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "AlignedBytes({} bytes)", self.len)
        }
    }
}

#[cfg(not(feature = "alloc"))]
mod owned {
    /// Heap-backed aligned bytes; needs the `alloc` feature.
    pub enum AlignedBytes {}
}
