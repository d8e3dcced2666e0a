//! The house rule, checked: modules are layers and imports only point down. Every path a
//! file of `src/` names (`use` lines and paths in code, `crate::`, `super::`, `self::`) is
//! resolved to the file that defines it — through `pub use` re-exports — and then:
//! - the top-level module of the target must be one the source's layer may use
//!   ([`ALLOWED`]);
//! - the graph of files must have no cycle, so no two files import each other, however
//!   long the loop.
//!
//! A new module gets a line in [`ALLOWED`]; a back-edge fails here, naming the file and the
//! path.

mod graph;
mod paths;

use std::path::Path;

use graph::Graph;

/// Each top-level module of the crate and the modules below it that it may use. The crate
/// root (`lib.rs`: the `select!` macro) is usable by all.
const ALLOWED: &[(&str, &[&str])] = &[
    ("rt", &[]),
    ("bugs", &[]),
    ("frame", &[]),
    ("signal", &["rt", "bugs"]),
    ("relay", &["rt", "bugs", "frame", "signal"]),
    ("net", &["rt", "bugs", "frame", "signal"]),
    ("patterns", &["rt", "bugs", "signal"]),
    (
        "cluster",
        &["rt", "bugs", "frame", "signal", "relay", "net"],
    ),
    (
        "grid",
        &["rt", "bugs", "frame", "signal", "net", "patterns"],
    ),
    ("check", &["rt"]),
];

/// Layers inside a module: files under the first folder never name files under the second.
const BELOW: &[(&str, &str)] = &[("src/rt/record", "src/rt/sim")];

fn house() -> Graph {
    Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let house = house();
    let unlisted: Vec<_> = house
        .top_levels()
        .into_iter()
        .filter(|m| !ALLOWED.iter().any(|(name, _)| name == m))
        .collect();
    assert!(unlisted.is_empty(), "modules with no layer: {unlisted:?}");
}

/// The edges that point up: to a module the source's layer may not use.
fn back_edges(house: &Graph) -> Vec<String> {
    let mut back_edges = Vec::new();
    for edge in house.edges() {
        let (Some(from), Some(to)) = (edge.from.top(), edge.to.top()) else {
            continue;
        };
        let allowed = ALLOWED.iter().find(|(name, _)| *name == from);
        if from != to && !allowed.is_some_and(|(_, below)| below.contains(&to)) {
            back_edges.push(format!("{} names {} ({})", edge.from, edge.to, edge.path));
        }
    }
    back_edges
}

/// The edges that call up inside a module ([`BELOW`]).
fn crossings(house: &Graph) -> Vec<String> {
    let crosses = |e: &graph::Edge| {
        let (from, to) = (e.from.to_string(), e.to.to_string());
        BELOW
            .iter()
            .any(|(low, high)| from.starts_with(low) && to.starts_with(high))
    };
    let edges = house.edges().into_iter().filter(crosses);
    edges
        .map(|e| format!("{} names {} ({})", e.from, e.to, e.path))
        .collect()
}

#[test]
fn imports_only_point_down() {
    let back_edges = back_edges(&house());
    assert!(
        back_edges.is_empty(),
        "back-edges:\n{}",
        back_edges.join("\n")
    );
}

#[test]
fn the_layers_form_no_loop() {
    let below = |m: &str| ALLOWED.iter().find(|(name, _)| *name == m).map(|(_, b)| *b);
    for (top, _) in ALLOWED {
        let mut reach: Vec<&str> = below(top).unwrap_or_default().to_vec();
        let mut seen = Vec::new();
        while let Some(m) = reach.pop() {
            assert_ne!(m, *top, "{top} can reach itself through the layer table");
            if !seen.contains(&m) {
                seen.push(m);
                reach.extend(below(m).unwrap_or_default());
            }
        }
    }
}

#[test]
fn layers_inside_a_module_hold() {
    let crossing = crossings(&house());
    assert!(
        crossing.is_empty(),
        "calls up inside a module:\n{}",
        crossing.join("\n")
    );
}

#[test]
fn no_files_import_each_other() {
    let cycles = house().cycles();
    let shown: Vec<String> = cycles.iter().map(|c| c.join(" -> ")).collect();
    assert!(cycles.is_empty(), "import cycles:\n{}", shown.join("\n"));
}

#[test]
fn the_check_sees_planted_back_edges_and_a_cycle() {
    let mut house = house();
    house.plant("src/net/wire.rs", "crate::relay::Relay");
    house.plant("src/rt/record/mod.rs", "crate::rt::sim::EventLog");
    house.plant("src/relay/writer.rs", "crate::relay::node::Relay");
    house.plant("src/relay/node.rs", "crate::relay::writer::Writer");
    let back = back_edges(&house);
    assert_eq!(
        back,
        ["src/net/wire.rs names src/relay/node.rs (crate::relay::Relay)"]
    );
    let crossing = crossings(&house);
    let expect = "src/rt/record/mod.rs names src/rt/sim/log.rs (crate::rt::sim::EventLog)";
    assert_eq!(crossing, [expect]);
    let cycles = house.cycles();
    let planted = [
        "src/relay/node.rs".to_string(),
        "src/relay/writer.rs".to_string(),
    ];
    assert!(
        cycles.contains(&planted.to_vec()),
        "the planted cycle is found: {cycles:?}"
    );
}
