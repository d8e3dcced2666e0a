//! Instruction counts under callgrind, and the command line that runs them, for benches whose wall-clock ratios this noisy
//! machine swings by tens of per cent: the bench runs one workload in a child process of
//! itself under `valgrind --tool=callgrind` and reads the total callgrind reports.

use std::process::Command;

/// The instructions the bench binary executes when run with `args` under callgrind.
pub fn instructions(args: &[String]) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("the bench binary: {e}"))?;
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind could not be started ({e}); is it installed?"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{args:?} failed under callgrind:\n{stderr}"));
    }
    stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|total| total.trim().parse().ok())
        .ok_or_else(|| format!("callgrind printed no total:\n{stderr}"))
}

/// Instructions per repetition of the workload `args(n)` runs `n` times: the count at `n`
/// less the count at 0 (start-up and set-up), over `n`.
pub fn per_repetition(args: impl Fn(usize) -> Vec<String>, n: usize) -> Result<f64, String> {
    let (base, full) = (instructions(&args(0))?, instructions(&args(n))?);
    Ok(full.saturating_sub(base) as f64 / n.max(1) as f64)
}

/// The command line of a bench with an instruction-count mode: no argument runs
/// `wall_clock`; `--instructions` runs `instructions`, which measures children of this
/// binary run with `--one ARGS…` (handled by `one`). Cargo's `--bench` is ignored; an
/// error ends the process with its message.
pub fn main(
    bench: &str,
    wall_clock: fn(),
    instructions: fn() -> Result<(), String>,
    one: fn(&[String]) -> Result<(), String>,
) {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let outcome = match args.first().map(String::as_str) {
        Some("--one") => one(&args[1..]),
        Some("--instructions") => instructions(),
        None => {
            wall_clock();
            Ok(())
        }
        Some(other) => Err(format!("unknown argument {other:?}; try --instructions")),
    };
    if let Err(error) = outcome {
        eprintln!("{bench} bench: {error}");
        std::process::exit(2);
    }
}
