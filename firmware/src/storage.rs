//! Where a threshold the device learned is kept across resets: the last flash page(s) on a
//! board, through embedded-storage's read-modify-write adapter over the board's NOR flash
//! (nRF52840: nrf52840-hal's NVMC driver; STM32L4R5: [`stm32l4`], written here), and RAM
//! under QEMU, whose mps2-an386 has no flash controller. `aedge_runtime::learn::save` and
//! `load` take any of them. The board paths are built by CI but have not run on hardware
//! yet (no board here).

/// Where the threshold record starts in the storage.
pub const OFFSET: u32 = 0;

#[cfg(feature = "qemu")]
mod imp {
    /// RAM standing in for flash.
    pub type Storage = aedge_runtime::learn::RamStorage<64>;

    /// The storage (empty at every start, as QEMU keeps no flash).
    pub fn open() -> Storage {
        Storage::new()
    }
}

#[cfg(not(feature = "qemu"))]
mod imp {
    use core::ptr::addr_of_mut;
    use embedded_storage::nor_flash::RmwNorFlashStorage;

    #[cfg(feature = "nrf52840-dk")]
    type Flash = nrf52840_hal::nvmc::Nvmc<nrf52840_hal::pac::NVMC>;
    #[cfg(feature = "nucleo-l4r5zi")]
    type Flash = super::stm32l4::LastPages;

    /// Bytes kept out of the program's flash by memory.x, at `_aedge_storage`.
    const PAGE: usize = 8 * 1024;
    // The adapter's copy of the page it rewrites: a write merges into it, erases, rewrites.
    static mut MERGE: [u8; PAGE] = [0; PAGE];

    extern "C" {
        // memory.x: the flash page(s) after the program.
        static mut _aedge_storage: u8;
    }

    /// The board's flash page(s) as storage.
    pub type Storage = RmwNorFlashStorage<'static, Flash>;

    /// The storage; call once (it takes the flash controller and the merge buffer).
    pub fn open() -> Storage {
        // SAFETY: memory.x reserves PAGE bytes of flash at `_aedge_storage` for this alone,
        // and `open` is called once, so the region and MERGE have no other users.
        unsafe {
            let region = core::slice::from_raw_parts_mut(addr_of_mut!(_aedge_storage), PAGE);
            #[cfg(feature = "nrf52840-dk")]
            let flash = Flash::new(nrf52840_hal::pac::Peripherals::steal().NVMC, region);
            #[cfg(feature = "nucleo-l4r5zi")]
            let flash = Flash::new(region);
            RmwNorFlashStorage::new(flash, &mut *addr_of_mut!(MERGE))
        }
    }
}

pub use imp::{open, Storage};

#[cfg(feature = "nucleo-l4r5zi")]
pub mod stm32l4 {
    //! The last 8 KiB of an STM32L4R5/L4S5's 2 MiB flash as NOR flash (RM0432, section 3):
    //! unlock with the key sequence, erase by page (one 8 KiB page in single-bank mode, the
    //! last two 4 KiB pages of bank 2 in dual-bank mode, as the DBANK option bit says),
    //! program 16 bytes at a time (a quad-word in single-bank mode, two double-words in
    //! dual-bank mode), lock again.

    use embedded_storage::nor_flash::{
        ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
    };

    const KEYR: *mut u32 = 0x4002_2008 as _;
    const SR: *mut u32 = 0x4002_2010 as _;
    const CR: *mut u32 = 0x4002_2014 as _;
    const OPTR: *const u32 = 0x4002_2020 as _;
    const SR_BSY: u32 = 1 << 16;
    // OPERR, PROGERR, WRPERR, PGAERR, SIZERR, PGSERR, MISERR, FASTERR.
    const SR_ERRORS: u32 = 0b11_1111_1010;
    const CR_PG: u32 = 1;
    const CR_PER: u32 = 1 << 1;
    const CR_BKER: u32 = 1 << 11;
    const CR_STRT: u32 = 1 << 16;
    const CR_LOCK: u32 = 1 << 31;
    const OPTR_DBANK: u32 = 1 << 22;

    /// What went wrong.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Error {
        /// Outside the region.
        OutOfBounds,
        /// Not aligned to the write or erase size.
        Unaligned,
        /// The flash controller reported an error (its SR error bits).
        Controller(u32),
    }

    impl NorFlashError for Error {
        fn kind(&self) -> NorFlashErrorKind {
            match self {
                Error::OutOfBounds => NorFlashErrorKind::OutOfBounds,
                Error::Unaligned => NorFlashErrorKind::NotAligned,
                Error::Controller(_) => NorFlashErrorKind::Other,
            }
        }
    }

    /// The reserved last 8 KiB.
    pub struct LastPages {
        region: &'static mut [u8],
    }

    impl LastPages {
        /// Takes the region memory.x reserves (the last 8 KiB of flash).
        pub fn new(region: &'static mut [u8]) -> Self {
            LastPages { region }
        }

        fn wait() -> Result<(), Error> {
            // SAFETY: the flash controller's status register; reads have no side effects.
            unsafe {
                while SR.read_volatile() & SR_BSY != 0 {}
                let sr = SR.read_volatile();
                // Error flags clear by writing 1.
                SR.write_volatile(sr);
                match sr & SR_ERRORS {
                    0 => Ok(()),
                    e => Err(Error::Controller(e)),
                }
            }
        }

        fn unlock() {
            // SAFETY: the documented key sequence; it only clears CR.LOCK.
            unsafe {
                if CR.read_volatile() & CR_LOCK != 0 {
                    KEYR.write_volatile(0x4567_0123);
                    KEYR.write_volatile(0xCDEF_89AB);
                }
            }
        }

        fn lock() {
            // SAFETY: setting LOCK only forbids further programming until the next unlock.
            unsafe { CR.write_volatile(CR.read_volatile() | CR_LOCK) }
        }

        fn dual_bank() -> bool {
            // SAFETY: the option register is readable at any time.
            unsafe { OPTR.read_volatile() & OPTR_DBANK != 0 }
        }

        fn erase_page(page: u32, bank2: bool) -> Result<(), Error> {
            Self::wait()?;
            let bank = if bank2 { CR_BKER } else { 0 };
            // SAFETY: a page erase of the reserved region (the callers pass its pages only).
            unsafe {
                CR.write_volatile(CR_PER | bank | (page << 3));
                CR.write_volatile(CR_PER | bank | (page << 3) | CR_STRT);
            }
            let r = Self::wait();
            // SAFETY: clears PER and the page number.
            unsafe { CR.write_volatile(CR.read_volatile() & !(CR_PER | CR_BKER | (0xff << 3))) };
            r
        }
    }

    impl ErrorType for LastPages {
        type Error = Error;
    }

    impl ReadNorFlash for LastPages {
        const READ_SIZE: usize = 1;

        fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Error> {
            let start = offset as usize;
            let src = self
                .region
                .get(start..start + bytes.len())
                .ok_or(Error::OutOfBounds)?;
            bytes.copy_from_slice(src);
            Ok(())
        }

        fn capacity(&self) -> usize {
            self.region.len()
        }
    }

    impl NorFlash for LastPages {
        const WRITE_SIZE: usize = 16;
        const ERASE_SIZE: usize = 8 * 1024;

        fn erase(&mut self, from: u32, to: u32) -> Result<(), Error> {
            if from != 0 || to as usize != self.region.len() {
                return Err(if to as usize > self.region.len() {
                    Error::OutOfBounds
                } else {
                    Error::Unaligned
                });
            }
            Self::unlock();
            let r = if Self::dual_bank() {
                // 256 pages of 4 KiB per bank: the last two of bank 2.
                Self::erase_page(254, true).and_then(|_| Self::erase_page(255, true))
            } else {
                // 256 pages of 8 KiB: the last one.
                Self::erase_page(255, false)
            };
            Self::lock();
            r
        }

        fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Error> {
            let start = offset as usize;
            if !start.is_multiple_of(16) || !bytes.len().is_multiple_of(16) {
                return Err(Error::Unaligned);
            }
            if start + bytes.len() > self.region.len() {
                return Err(Error::OutOfBounds);
            }
            Self::unlock();
            let mut r = Self::wait();
            let base = self.region.as_mut_ptr() as *mut u32;
            for (i, chunk) in bytes.chunks_exact(4).enumerate() {
                if r.is_err() {
                    break;
                }
                // A double-word (dual bank) or quad-word (single bank) is written word by
                // word with PG set; the controller programs it when the last word lands.
                // SAFETY: inside the reserved region, word-aligned (16-byte aligned start).
                unsafe {
                    CR.write_volatile(CR_PG);
                    base.add(start / 4 + i).write_volatile(u32::from_le_bytes([
                        chunk[0], chunk[1], chunk[2], chunk[3],
                    ]));
                }
                let programmed = if Self::dual_bank() { 2 } else { 4 };
                if (i + 1).is_multiple_of(programmed) {
                    r = Self::wait();
                }
            }
            // SAFETY: clears PG.
            unsafe { CR.write_volatile(CR.read_volatile() & !CR_PG) };
            Self::lock();
            r
        }
    }
}
