//! `aedge presets`: the built-in recipes, and the file of one to start a recipe of your own.

use crate::{Out, Result};
use aedge_trainer::presets;
use serde_json::json;

/// Arguments of `aedge presets`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Print a preset's recipe file (save it, edit it, train it with --config).
    Show {
        /// The preset.
        name: String,
    },
}

/// Runs the subcommand.
pub fn run(a: Args, out: Out) -> Result<()> {
    match a.action {
        Some(Action::Show { name }) => {
            let text = presets::file(&name)?;
            out.json(json!({ "name": name, "recipe": text }));
            if !out.json && !out.quiet {
                print!("{text}");
            }
        }
        None => {
            let mut list = Vec::new();
            for name in presets::names() {
                let r = presets::recipe(name)?;
                out.line(format!("{name:<15} {}", r.description));
                list.push(json!({ "name": name, "description": r.description }));
            }
            out.json(json!(list));
            out.line("aedge presets show NAME prints one as a file to start from; aedge train --config FILE trains it");
        }
    }
    Ok(())
}
