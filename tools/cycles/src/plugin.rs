//! The plugin's QEMU side: a callback on every executed instruction, and a line written each
//! time the marker function starts.

use crate::thumb::decode;
use crate::timing::Tracker;
use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::plugin::{HasCallbacks, Register};
use qemu_plugin::{PluginId, TranslationBlock};
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;

struct State {
    tracker: Tracker,
    out: Option<File>,
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

fn line(s: &mut State, prefix: &str) {
    let t = &s.tracker;
    let text = format!(
        "{prefix}{} {} {} {}{}\n",
        t.instructions,
        t.cycles.estimate,
        t.cycles.low,
        t.cycles.high,
        if prefix.is_empty() {
            String::new()
        } else {
            format!(" {}", t.unknown)
        }
    );
    if let Some(f) = s.out.as_mut() {
        // Nothing to report an error to inside QEMU; the host finds a short file.
        let _ = f.write_all(text.as_bytes());
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
        let path = match args.parsed.get("out") {
            Some(Value::String(p)) => p.clone(),
            _ => "aedge-cycles.txt".into(),
        };
        state().out = Some(File::create(path).map_err(qemu_plugin::Error::from)?);
        qemu_plugin::qemu_plugin_register_atexit_cb(id, |_| line(&mut state(), "end "))
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
            if pc == self.mark {
                insn.register_execute_callback(move |_| {
                    let mut s = state();
                    s.tracker.step(pc, &decoded);
                    line(&mut s, "");
                });
            } else {
                insn.register_execute_callback(move |_| state().tracker.step(pc, &decoded));
            }
        }
        Ok(())
    }
}

qemu_plugin::register!(CyclesPlugin::default());
