//! The crate's layering (ARCHITECTURE.md): no module depends on itself through others, and
//! the modules a device runs never use the host-only ones (graph IR, int8 IR, calibration,
//! export in every precision, the writer, the reference models, files).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules only a host builds (behind `alloc` / `std`).
const HOST_ONLY: &[&str] = &[
    "calibrate",
    "codegen",
    "fs",
    "ir",
    "precisions",
    "qgraph",
    "writer",
    "zoo",
];

/// Top-level module of each source file, and the top-level modules it names as `crate::x`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "lib" {
                continue;
            }
            // Code only: a doc link is not a dependency.
            let text: String = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            let used = deps.entry(top.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let name: String = text[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top && name.chars().next().unwrap().is_lowercase() {
                    used.insert(name);
                }
            }
        }
    }
    deps
}

#[test]
fn modules_depend_one_way() {
    let deps = graph();
    assert!(
        deps.contains_key("model") && deps.contains_key("kernels"),
        "{deps:?}"
    );
    // Depth-first search for a cycle.
    fn visit<'a>(
        m: &'a str,
        deps: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if let Some(i) = path.iter().position(|p| *p == m) {
            panic!("module cycle: {}", path[i..].join(" → ") + " → " + m);
        }
        if !done.insert(m) {
            return;
        }
        path.push(m);
        for d in deps.get(m).into_iter().flatten() {
            if deps.contains_key(d) {
                visit(d, deps, path, done);
            }
        }
        path.pop();
    }
    for m in deps.keys() {
        visit(m, &deps, &mut Vec::new(), &mut BTreeSet::new());
    }
}

#[test]
fn device_modules_do_not_use_host_modules() {
    for (m, used) in graph() {
        if HOST_ONLY.contains(&m.as_str()) {
            continue;
        }
        for h in HOST_ONLY {
            assert!(
                !used.contains(*h),
                "device module {m} uses host-only module {h}"
            );
        }
    }
}
