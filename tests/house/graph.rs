//! The crate's files as a graph: each file is a module, each path it names an edge to the
//! file that defines what the path names (re-exports followed), and the cycles of the graph.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use crate::paths::{named, Named};

/// One file of `src/` and the module it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FileRef {
    file: String,
    module: Vec<String>,
}

impl FileRef {
    /// The top-level module the file belongs to; `None` for the crate root.
    pub fn top(&self) -> Option<&str> {
        self.module.first().map(String::as_str)
    }
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)
    }
}

/// A path in one file, resolved to the file that defines it.
#[derive(Debug, Clone)]
pub struct Edge {
    pub from: FileRef,
    pub to: FileRef,
    pub path: String,
    /// A `pub use`: part of the module's face, so checked against the layers, but not an
    /// import the file itself depends on.
    pub exported: bool,
}

#[derive(Debug)]
pub struct Graph {
    modules: BTreeMap<Vec<String>, FileRef>,
    named: BTreeMap<String, Vec<Named>>,
}

impl Graph {
    /// Every `.rs` file under `src` and the paths it names.
    pub fn read(src: &Path) -> Self {
        let mut graph = Graph {
            modules: BTreeMap::new(),
            named: BTreeMap::new(),
        };
        graph.walk(src, src);
        graph
    }

    fn walk(&mut self, src: &Path, dir: &Path) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                self.walk(src, &path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let mut module: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            let file = format!("src/{}", relative.display());
            let source = std::fs::read_to_string(&path).expect("a readable source file");
            self.named.insert(file.clone(), named(&source));
            self.modules
                .insert(module.clone(), FileRef { file, module });
        }
    }

    /// Adds a path to `file`, as if it named it.
    pub fn plant(&mut self, file: &str, path: &str) {
        let segments = path.split("::").map(str::to_string).collect();
        let named = self.named.get_mut(file).expect("a file of the crate");
        named.push(Named {
            segments,
            exported: false,
        });
    }

    /// The crate's top-level modules.
    pub fn top_levels(&self) -> BTreeSet<String> {
        self.modules
            .keys()
            .filter_map(|m| m.first().cloned())
            .collect()
    }

    /// Every resolved edge between two different files.
    pub fn edges(&self) -> Vec<Edge> {
        let mut edges = Vec::new();
        for from in self.modules.values() {
            for named in &self.named[&from.file] {
                let Some(absolute) = absolute(&from.module, &named.segments) else {
                    continue;
                };
                let Some(to) = self.resolve(&absolute, 0) else {
                    continue;
                };
                if to != *from {
                    edges.push(Edge {
                        from: from.clone(),
                        to,
                        path: named.segments.join("::"),
                        exported: named.exported,
                    });
                }
            }
        }
        edges
    }

    /// The file defining what `path` names: the deepest module on the path, or the file a
    /// re-export of that module points to.
    fn resolve(&self, path: &[String], depth: usize) -> Option<FileRef> {
        let deepest = (0..=path.len())
            .rev()
            .find(|n| self.modules.contains_key(&path[..*n]))?;
        let module = &self.modules[&path[..deepest]];
        let Some(next) = path.get(deepest) else {
            return Some(module.clone());
        };
        let reexport = self.named[&module.file]
            .iter()
            .filter(|n| n.exported && n.segments.last() == Some(next))
            .find_map(|n| absolute(&module.module, &n.segments));
        match reexport {
            Some(target) if depth < 8 && target != path[..=deepest] => {
                let mut target = target;
                target.extend_from_slice(&path[deepest + 1..]);
                self.resolve(&target, depth + 1)
            }
            _ => Some(module.clone()),
        }
    }

    /// The cycles among files' own imports, each as its files in order.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut next: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for edge in self.edges().into_iter().filter(|e| !e.exported) {
            let targets = next.entry(edge.from.file).or_default();
            targets.insert(edge.to.file);
        }
        strongly_connected(&next)
            .into_iter()
            .filter(|c| c.len() > 1)
            .collect()
    }
}

/// `segments` from module `at` as a path from the crate root; `None` for another crate.
fn absolute(at: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut base = at.to_vec();
    let mut rest = segments;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend_from_slice(rest);
    Some(base)
}

/// Tarjan's strongly connected components of `next`.
fn strongly_connected(next: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        next: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, (usize, usize)>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, (n, n));
            self.stack.push(node);
            self.on_stack.insert(node);
            for to in self.next.get(node).into_iter().flatten() {
                if !self.index.contains_key(to.as_str()) {
                    self.visit(to);
                    let low = self.index[to.as_str()].1.min(self.index[node].1);
                    self.index.get_mut(node).expect("visited").1 = low;
                } else if self.on_stack.contains(to.as_str()) {
                    let low = self.index[to.as_str()].0.min(self.index[node].1);
                    self.index.get_mut(node).expect("visited").1 = low;
                }
            }
            let (index, low) = self.index[node];
            if index == low {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.to_string());
                    if top == node {
                        break;
                    }
                }
                component.reverse();
                self.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        next,
        index: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in next.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}
