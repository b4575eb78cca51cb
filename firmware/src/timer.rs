//! Timing of one inference. Under QEMU the CMSDK APB timer 0 of mps2-an386 counts at the
//! 25 MHz system clock; with `-icount shift=6` every guest instruction advances virtual time by
//! 64 ns, so `instructions = ticks * 5 / 8` exactly. These are executed instructions, not
//! cycles: QEMU models no pipeline or wait states (the host's `aedge-cycles` plugin estimates
//! Cortex-M4 cycles between the same reads). On boards the DWT cycle counter gives real
//! cycles.

/// What [`elapsed`] counts.
#[cfg(feature = "qemu")]
pub const UNIT: &str = "qemu-ticks";
/// What [`elapsed`] counts.
#[cfg(not(feature = "qemu"))]
pub const UNIT: &str = "cycles";

#[cfg(feature = "qemu")]
mod imp {
    const CTRL: *mut u32 = 0x4000_0000usize as _;
    const VALUE: *mut u32 = 0x4000_0004usize as _;
    const RELOAD: *mut u32 = 0x4000_0008usize as _;

    pub fn init() {
        // SAFETY: the CMSDK timer 0 registers of mps2-an386; nothing else uses them.
        unsafe {
            RELOAD.write_volatile(u32::MAX);
            VALUE.write_volatile(u32::MAX);
            CTRL.write_volatile(1);
        }
    }

    /// The timer read, out of line and under a fixed name: the host's cycle-estimate plugin
    /// (`tools/cycles`) marks every measurement's start and end by this function's entry.
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn aedge_timer_now() -> u32 {
        // A down-counter: negate so time goes up.
        // SAFETY: as above; reading VALUE has no side effects.
        !unsafe { VALUE.read_volatile() }
    }

    pub fn now() -> u32 {
        aedge_timer_now()
    }
}

#[cfg(not(feature = "qemu"))]
mod imp {
    pub fn init() {
        // SAFETY: called once at start-up, before anything else touches DCB/DWT.
        let mut p = unsafe { cortex_m::Peripherals::steal() };
        p.DCB.enable_trace();
        p.DWT.enable_cycle_counter();
    }

    pub fn now() -> u32 {
        cortex_m::peripheral::DWT::cycle_count()
    }
}

/// Starts the counter.
pub fn init() {
    imp::init()
}

/// The current count.
pub fn now() -> u32 {
    imp::now()
}

/// Counts since `start` (wrapping).
pub fn elapsed(start: u32) -> u32 {
    now().wrapping_sub(start)
}
