//! The walk-through's own harness binary: `cargo run --release -p walkthrough -- --help`.

fn main() -> std::process::ExitCode {
    sim::Harness::new(walkthrough::SCENARIOS)
        .regressions_at(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions.txt"))
        .replayed_with("cargo run --release -p walkthrough --")
        .main()
}
