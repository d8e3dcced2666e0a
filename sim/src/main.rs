//! `sim`: the sigrelay harness command over sigrelay's own scenarios; `sim --help` lists
//! the commands. A user's own binary is the same one line over their own table (see the
//! `sim` library's crate doc).

fn main() -> std::process::ExitCode {
    sim::Harness::sigrelay().main()
}
