//! A single self-contained HTML report: tables and PNG figures (embedded as data URIs), each
//! section with the command that produced its figures. No scripts, no external files.

use base64::Engine;
use std::path::PathBuf;

/// A table of strings.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Table {
    /// An empty table with the given header.
    pub fn new(head: &[&str]) -> Self {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn row(&mut self, r: Vec<String>) {
        self.rows.push(r);
    }

    /// Markdown-style text for the terminal.
    pub fn text(&self) -> String {
        let line = |r: &[String]| format!("| {} |", r.join(" | "));
        let mut s = vec![
            line(&self.head),
            format!("|{}|", vec!["---"; self.head.len()].join("|")),
        ];
        s.extend(self.rows.iter().map(|r| line(r)));
        s.join("\n")
    }

    fn html(&self) -> String {
        let cells = |r: &[String], tag: &str| {
            r.iter()
                .map(|c| format!("<{tag}>{}</{tag}>", esc(c)))
                .collect::<String>()
        };
        format!(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
            cells(&self.head, "th"),
            self.rows
                .iter()
                .map(|r| format!("<tr>{}</tr>", cells(r, "td")))
                .collect::<String>()
        )
    }
}

/// A PNG on disk to embed.
pub struct Figure {
    /// The PNG file.
    pub path: PathBuf,
    /// Caption under it.
    pub caption: String,
}

/// The report being built.
pub struct Report {
    title: String,
    body: String,
}

impl Report {
    /// An empty report.
    pub fn new(title: &str) -> Self {
        Report {
            title: title.into(),
            body: String::new(),
        }
    }

    /// A paragraph.
    pub fn text(&mut self, t: &str) {
        self.body.push_str(&format!("<p>{}</p>\n", esc(t)));
    }

    /// A titled table with the command that produced it.
    pub fn section(&mut self, title: &str, command: &str, table: &Table) {
        self.body.push_str(&format!(
            "<section><h2>{}</h2>{}<p class=\"cmd\">Produced by <code>{}</code></p></section>\n",
            esc(title),
            table.html(),
            esc(command)
        ));
    }

    /// An embedded PNG.
    pub fn figure(&mut self, f: &Figure) -> crate::Result<()> {
        let png = std::fs::read(&f.path).map_err(|e| format!("{}: {e}", f.path.display()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(png);
        self.body.push_str(&format!(
            "<figure><img alt=\"{0}\" src=\"data:image/png;base64,{1}\"><figcaption>{0}</figcaption></figure>\n",
            esc(&f.caption),
            b64
        ));
        Ok(())
    }

    /// An inline SVG figure (a chart from [`aedge::chart`]).
    pub fn svg(&mut self, svg: &str, caption: &str) {
        self.body.push_str(&format!(
            "<figure>{svg}<figcaption>{}</figcaption></figure>\n",
            esc(caption)
        ));
    }

    /// The whole page.
    pub fn finish(self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
             <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}}\
             table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #bbb;padding:.25em .6em;text-align:left}}\
             th{{background:#eee}}img{{image-rendering:pixelated;width:100%;max-width:40em}}\
             .cmd{{color:#555;font-size:.9em}}figcaption{{color:#555;font-size:.9em}}</style></head>\
             <body><h1>{0}</h1>\n{1}</body></html>\n",
            esc(&self.title),
            self.body
        )
    }
}
