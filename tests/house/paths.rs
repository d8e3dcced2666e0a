//! Reading the paths a source file names: its `use` trees, expanded, and the `crate::`,
//! `super::` and `self::` paths in its code. Comments and unit-test modules are left out:
//! prose may name anything, and a test module sits inside the file it tests.

/// A path one file names, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub segments: Vec<String>,
    /// Named by a `pub use`: a re-export, which other files resolve through.
    pub exported: bool,
}

/// Every path `source` names.
pub fn named(source: &str) -> Vec<Named> {
    let code = without_tests(&without_comments(source));
    let (uses, rest) = split_uses(&code);
    let mut named = Vec::new();
    for (exported, tree) in uses {
        for segments in expand(&[], &tree) {
            named.push(Named { segments, exported });
        }
    }
    for segments in inline_paths(&rest) {
        named.push(Named {
            segments,
            exported: false,
        });
    }
    named
}

fn without_comments(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    for line in source.lines() {
        let mut in_string = false;
        let mut previous = ' ';
        let mut cut = line.len();
        for (i, c) in line.char_indices() {
            match c {
                '"' if previous != '\\' => in_string = !in_string,
                '/' if !in_string && previous == '/' => {
                    cut = i - 1;
                    break;
                }
                _ => {}
            }
            previous = c;
        }
        out.push_str(&line[..cut]);
        out.push('\n');
    }
    out
}

/// The code before a `#[cfg(test)]` module.
fn without_tests(code: &str) -> String {
    let mut search = 0;
    while let Some(at) = code[search..].find("#[cfg(test)]") {
        let at = search + at;
        let after = code[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") {
            return code[..at].to_string();
        }
        search = at + 1;
    }
    code.to_string()
}

/// The `use` trees of `code` (with whether each is public), and the code without them.
fn split_uses(code: &str) -> (Vec<(bool, String)>, String) {
    let mut uses = Vec::new();
    let mut rest = String::new();
    let mut tail = code;
    while let Some(at) = find_word(tail, "use") {
        let head = &tail[..at];
        let exported = is_exported(head);
        let Some(end) = tail[at..].find(';') else {
            break;
        };
        rest.push_str(head);
        uses.push((exported, tail[at + 3..at + end].trim().to_string()));
        tail = &tail[at + end + 1..];
    }
    rest.push_str(tail);
    (uses, rest)
}

/// Where `word` stands alone in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = text[from..].find(word) {
        let at = from + at;
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + word.len()).copied();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Whether the `use` that `head` leads to is `pub` or `pub(…)`.
fn is_exported(head: &str) -> bool {
    let line = head.rsplit('\n').next().unwrap_or("");
    line.trim_start().starts_with("pub")
}

/// The paths of a use tree such as `a::{b, c::{d as e, self}}`.
fn expand(prefix: &[String], tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    if tree.is_empty() {
        return Vec::new();
    }
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim_end_matches("::").trim();
        let mut base = prefix.to_vec();
        base.extend(segments(head));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        return split_top(inner)
            .iter()
            .flat_map(|part| expand(&base, part))
            .collect();
    }
    let path = tree.split(" as ").next().unwrap_or(tree);
    let mut full = prefix.to_vec();
    full.extend(segments(path).into_iter().filter(|s| s != "*"));
    if full.last().is_some_and(|s| s == "self") {
        full.pop();
    }
    vec![full]
}

fn segments(path: &str) -> Vec<String> {
    path.split("::")
        .map(|s| s.trim().trim_start_matches("::").to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `text` split at the commas outside braces.
fn split_top(text: &str) -> Vec<String> {
    let (mut parts, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts
}

/// The `crate::…`, `super::…` and `self::…` paths in code (not `$crate::…` in macros).
fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|s| code[i..].starts_with(s));
        let before = i.checked_sub(1).map(|j| bytes[j]);
        if !starts || before.is_some_and(|b| is_ident(b) || b == b'$' || b == b':') {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len() && (is_ident(bytes[end]) || code[end..].starts_with("::")) {
            end += if bytes[end] == b':' { 2 } else { 1 };
        }
        found.push(segments(&code[i..end]));
        i = end.max(i + 1);
    }
    found
}

#[test]
fn a_use_tree_expands_to_its_paths() {
    let named = named("pub use self::a::{b, c::{d as e, self}};\nuse super::f::*;\n");
    let paths: Vec<_> = named
        .iter()
        .map(|n| (n.segments.join("::"), n.exported))
        .collect();
    let expect = [
        ("self::a::b", true),
        ("self::a::c::d", true),
        ("self::a::c", true),
        ("super::f", false),
    ];
    let expect: Vec<_> = expect.iter().map(|(p, e)| (p.to_string(), *e)).collect();
    assert_eq!(paths, expect);
}

#[test]
fn comments_strings_and_tests_name_nothing() {
    let source = "//! crate::a\nfn f() { let _ = \"//\"; crate::b::c(); } // crate::d\n\
                  #[cfg(test)]\nmod tests { use crate::e; }\n";
    let paths: Vec<_> = named(source)
        .into_iter()
        .map(|n| n.segments.join("::"))
        .collect();
    assert_eq!(paths, vec!["crate::b::c".to_string()]);
}
