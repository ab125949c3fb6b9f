//! The architecture, checked: a layer never imports a higher one, and no two files of one
//! module import each other, directly or around a circle (docs/DESIGN.md, "Layers").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The library's top-level modules, lowest layer first; a module may use only lower ranks.
const RANKS: [(&str, u8); 11] = [
    ("format", 0),
    ("crypto", 1),
    ("writeback", 1),
    ("files", 2),
    ("store", 3),
    ("keyring", 3),
    ("trust", 3),
    ("audit", 4),
    ("vault", 5),
    ("lockbox", 6),
    ("customer", 7),
];

fn rank(module: &str) -> Option<u8> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

/// Every `.rs` file under `dir`, with its text, comments and doc comments removed.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text: String = std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect();
            out.push((path.to_string_lossy().into_owned(), text));
        }
    }
    out
}

/// The top-level module a file of `src/` belongs to (`src/vault/items.rs` -> `vault`).
fn top_module(path: &str) -> Option<String> {
    let rel = path.split("/src/").nth(1)?;
    let first = rel.split('/').next()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// Names that follow `prefix` in `text` (`crate::vault::x` -> `vault`).
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let rest = &text[i + prefix.len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            // `use super::{a, b::{c, d}, E}`: the first segment of each top-level entry.
            let mut entries = Vec::new();
            let (mut depth, mut start) = (0usize, 0usize);
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        entries.push(&group[start..j]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        entries.push(&group[start..j]);
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            entries.into_iter().map(|s| s.trim().split("::").next().unwrap_or("")).collect()
        } else {
            vec![rest.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or("")]
        };
        out.extend(names.into_iter().filter(|n| !n.is_empty()).map(str::to_owned));
    }
    out
}

#[test]
fn no_layer_imports_a_higher_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (path, text) in sources(&root) {
        let Some(own) = top_module(&path).as_deref().and_then(rank) else { continue };
        for used in names_after(&text, "crate::") {
            if let Some(r) = rank(&used)
                && r >= own
                && Some(used.as_str()) != top_module(&path).as_deref()
            {
                wrong.push(format!("{path} uses crate::{used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "a layer imports one at or above its own:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // Directory -> file stem -> sibling files it names through `super::`.
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let all = sources(&root);
    for (path, text) in &all {
        let p = Path::new(path);
        let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
        if stem == "mod" || stem == "lib" || stem == "main" {
            continue;
        }
        let dir = p.parent().unwrap().to_string_lossy().into_owned();
        let siblings: BTreeSet<String> = all
            .iter()
            .map(|(q, _)| Path::new(q))
            .filter(|q| q.parent() == p.parent())
            .map(|q| q.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|s| s != "mod" && s != &stem)
            .collect();
        // A sibling is named through `super::`, or through its full path from the crate root
        // (`crate::store::typed`, also inside macros as `$crate::store::typed`).
        let mut named = names_after(text, "super::");
        if let Some(top) = top_module(path) {
            named.extend(names_after(text, &format!("crate::{top}::")));
        }
        let used: BTreeSet<String> = named.intersection(&siblings).cloned().collect();
        graphs.entry(dir).or_default().insert(stem, used);
    }
    let mut cycles = Vec::new();
    for (dir, graph) in &graphs {
        for start in graph.keys() {
            // Is `start` reachable from one of the files it uses?
            let mut seen = BTreeSet::new();
            let mut todo: Vec<&String> = graph[start].iter().collect();
            while let Some(at) = todo.pop() {
                if at == start {
                    cycles.push(format!("{dir}: {start} is in a circle"));
                    break;
                }
                if seen.insert(at.clone()) {
                    todo.extend(graph.get(at).into_iter().flatten());
                }
            }
        }
    }
    assert!(cycles.is_empty(), "files that import each other:\n{}", cycles.join("\n"));
}

#[test]
fn the_checks_see_what_they_check() {
    // The parser finds both shapes of import, so the two tests above cannot pass by finding
    // nothing.
    let text =
        "use super::{chunks::{x, y}, Error, stage};\nuse crate::vault::Vault;\nfn f() { super::items::g() }";
    assert_eq!(names_after(text, "super::"), ["Error", "chunks", "items", "stage"].map(String::from).into());
    assert_eq!(names_after(text, "crate::"), ["vault"].map(String::from).into());
    assert_eq!(
        names_after("$crate::store::typed::f()", "crate::store::"),
        ["typed"].map(String::from).into()
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(sources(&root).len() > 40);
}

/// Each layer's operations are on its own types: no file outside a type's module adds inherent
/// methods to it (`impl Vault { ... }` in the lockbox layer once made `Vault` a catch-all).
#[test]
fn no_layer_adds_methods_to_another_layers_type() {
    let homes = [
        ("Vault", "vault"),
        ("Keyring", "keyring"),
        ("Identity", "keyring"),
        ("MonitorKey", "keyring"),
        ("RedbStore", "store"),
        ("MemoryStore", "store"),
        ("Pins", "trust"),
        ("Workflow", "lockbox"),
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut strays = Vec::new();
    for (path, text) in sources(&root) {
        let module = Path::new(&path)
            .strip_prefix(&root)
            .ok()
            .and_then(|p| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned())
            .unwrap_or_default();
        for line in text.lines().filter(|l| l.trim_start().starts_with("impl")) {
            // Inherent impls only: `impl X {` or `impl<'a> X<'a> {`, with any path before X.
            if line.contains(" for ") {
                continue;
            }
            for (ty, home) in homes {
                let named = line.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|word| word == ty);
                if named && module != home {
                    strays.push(format!("{path}: {}", line.trim()));
                }
            }
        }
    }
    assert!(strays.is_empty(), "inherent methods added outside the type's layer:\n{}", strays.join("\n"));
    // The check sees what it checks: the scan finds the vault's own impls.
    let vault_impls = sources(&root.join("vault")).iter().filter(|(_, t)| t.contains("impl Vault {")).count();
    assert!(vault_impls > 5, "found {vault_impls}");
}
