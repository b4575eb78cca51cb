//! The plugin's QEMU side: a callback on every executed instruction, and a line written each
//! time the marker function starts.

use crate::thumb::decode;
use crate::timing::Tracker;
use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::{PluginId, TranslationBlock};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Mutex;

struct State {
    tracker: Tracker,
    // Buffered: a line per timer read; flushed with the end line when the guest exits.
    out: Option<BufWriter<File>>,
}

static STATE: Mutex<State> = Mutex::new(State {
    tracker: Tracker::new(),
    out: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    // A panic inside QEMU's callback would abort the emulator; a poisoned lock still holds
    // valid counts.
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Appends `<instructions> <estimate> <low> <high> <flash data lines> <flash code lines>`
/// after `prefix`, then `suffix`.
fn line(s: &mut State, prefix: &str, suffix: &str) {
    let t = &s.tracker;
    let c = &t.cycles;
    if let Some(f) = s.out.as_mut() {
        // Nothing to report an error to inside QEMU; the host finds no end line.
        let _ = writeln!(
            f,
            "{prefix}{} {} {} {} {} {}{suffix}",
            t.instructions, c.estimate, c.low, c.high, t.flash.data, t.flash.code
        );
    }
}

/// The end line, with the count of undecoded instructions, and the file flushed.
fn end(s: &mut State) {
    let unknown = format!(" {}", s.tracker.unknown);
    line(s, "end ", &unknown);
    if let Some(f) = s.out.as_mut() {
        let _ = f.flush();
    }
}

#[derive(Default)]
struct CyclesPlugin {
    mark: u64,
}

impl Register for CyclesPlugin {
    fn register(&mut self, id: PluginId, args: &Args, _info: &Info) -> qemu_plugin::Result<()> {
        // The marker's address without the Thumb bit (an ELF symbol's value has it set).
        self.mark = match args.parsed.get("mark") {
            Some(Value::Integer(a)) => *a as u64 & !1,
            _ => return Err(qemu_plugin::Error::PluginInstanceSetError),
        };
        // The flash's addresses (where code and model are): `flash_end`, from 0.
        let flash_end = match args.parsed.get("flash_end") {
            Some(Value::Integer(a)) => *a as u64,
            _ => 0x40_0000,
        };
        state().tracker.flash_range = (0, flash_end);
        let path = match args.parsed.get("out") {
            Some(Value::String(p)) => p.clone(),
            _ => "aedge-cycles.txt".into(),
        };
        state().out = Some(BufWriter::new(
            File::create(path).map_err(qemu_plugin::Error::from)?,
        ));
        qemu_plugin::qemu_plugin_register_atexit_cb(id, |_| end(&mut state()))
    }
}

impl HasCallbacks for CyclesPlugin {
    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        for insn in tb.instructions() {
            let pc = insn.vaddr();
            let decoded = decode(&insn.data());
            // Data reads, for the flash lines they touch. Registered for reads and writes
            // and filtered here: QEMU 7.2 delivered only the stores to a read-only callback.
            insn.register_memory_access_callback(
                |_, info, addr| {
                    if !info.is_store() {
                        state().tracker.read(addr, 1 << info.size_shift());
                    }
                },
                qemu_plugin::MemRW::QEMU_PLUGIN_MEM_RW,
            );
            if pc == self.mark {
                insn.register_execute_callback(move |_| {
                    let mut s = state();
                    s.tracker.step(pc, &decoded);
                    line(&mut s, "", "");
                });
            } else {
                insn.register_execute_callback(move |_| state().tracker.step(pc, &decoded));
            }
        }
        Ok(())
    }
}

qemu_plugin::register!(CyclesPlugin::default());
