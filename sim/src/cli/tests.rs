//! The command line's parsing, its typed errors and its help.

use clap::error::ErrorKind;
use clap::{CommandFactory as _, Parser as _};

use super::*;

fn parse(line: &str) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("sim").chain(line.split_whitespace()))
}

fn run_args(line: &str) -> RunArgs {
    let cli = parse(line).expect("valid");
    let flags = match cli.command {
        Some(Command::Run(flags)) => flags,
        None => cli.run,
        Some(other) => panic!("not run: {other:?}"),
    };
    flags.resolve(&Harness::sigrelay()).expect("resolves")
}

#[test]
fn the_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn shards_partition_the_seeds_exactly() {
    let range = 3..40;
    let owners = |seed| {
        (1..=3)
            .filter(|i| {
                Shard {
                    index: *i,
                    count: 3,
                }
                .owns(&range, seed)
            })
            .count()
    };
    assert!(range.clone().all(|seed| owners(seed) == 1));
    let args = run_args("run --seeds 3..40 --shard 2/3");
    assert_eq!(
        (args.seeds, args.shard),
        (3..40, Shard { index: 2, count: 3 })
    );
}

#[test]
fn no_arguments_run_every_scenario_over_the_default_seeds_on_every_core() {
    let args = run_args("");
    assert_eq!(args.scenarios.len(), crate::scenarios::ALL.len());
    assert_eq!(
        (
            args.seeds,
            args.seeds_given,
            args.shard,
            args.check_determinism
        ),
        (DEFAULT_SEEDS, false, Shard::ALL, false)
    );
    assert_eq!(args.jobs, available_jobs());
    let flags_alone = run_args("--scenario fan-in --scenario pipeline --jobs 3");
    let names: Vec<_> = flags_alone.scenarios.iter().map(|s| s.name).collect();
    assert_eq!((names, flags_alone.jobs), (vec!["fan-in", "pipeline"], 3));
}

#[test]
fn bad_values_are_refused_with_what_was_expected() {
    for (line, expected) in [
        ("run --seeds 9..2", "expected A..B with A < B"),
        ("run --shard 0/2", "expected I/N with 1 <= I <= N"),
        ("run --shard 3/2", "expected I/N"),
        ("run --jobs 0", "expected a positive whole number"),
        (
            "check --scenario pipeline --iterations 0",
            "expected a positive whole number",
        ),
        (
            "check --scenario pipeline --strategy bfs",
            "possible values: pct, random, dfs",
        ),
    ] {
        let error = parse(line).expect_err(line);
        assert!(
            matches!(
                error.kind(),
                ErrorKind::ValueValidation | ErrorKind::InvalidValue
            ),
            "{line}: {error}"
        );
        assert!(error.to_string().contains(expected), "{line}: {error}");
    }
    for (line, kind) in [
        ("run --seeds", ErrorKind::InvalidValue),
        ("fly", ErrorKind::InvalidSubcommand),
        ("check --strategy dfs", ErrorKind::MissingRequiredArgument),
        (
            "replay --scenario pipeline",
            ErrorKind::MissingRequiredArgument,
        ),
        ("bugs --yaml", ErrorKind::UnknownArgument),
        ("run --fast", ErrorKind::UnknownArgument),
    ] {
        assert_eq!(parse(line).expect_err(line).kind(), kind, "{line}");
    }
}

/// The command `line` parses to.
fn command(line: &str) -> Command {
    parse(line).expect("parses").command.expect("a command")
}

#[test]
fn names_the_harness_lacks_get_a_typed_error() {
    let harness = Harness::sigrelay();
    let resolved = |line: &str| match command(line) {
        Command::Run(flags) => flags.resolve(&harness).map(drop),
        Command::Replay(flags) => flags.resolve(&harness).map(drop),
        Command::Check(flags) => flags.resolve(&harness).map(drop),
        other => panic!("resolves nothing: {other:?}"),
    };
    assert_eq!(
        resolved("run --scenario nope"),
        Err(CliError::UnknownScenario("nope".into()))
    );
    assert_eq!(
        resolved("replay --scenario pipeline --seed 1 --bug B99"),
        Err(CliError::UnknownBug("B99".into()))
    );
    assert_eq!(
        resolved("check --scenario cluster-crash"),
        Err(CliError::NotShuttle("cluster-crash"))
    );
    assert_eq!(
        resolved("replay --scenario pipeline --seed 1 --bug B1"),
        Ok(())
    );
}

/// `--help` works on the command and on every subcommand, and names each flag.
#[test]
fn every_command_has_help() {
    let help = parse("--help").expect_err("help is shown as an early exit");
    assert_eq!(help.kind(), ErrorKind::DisplayHelp);
    for command in ["run", "list", "check", "replay", "bugs", "regressions"] {
        assert!(help.to_string().contains(command), "{command}: {help}");
        let sub = parse(&format!("{command} --help")).expect_err("help");
        assert_eq!(sub.kind(), ErrorKind::DisplayHelp, "{command}");
    }
    let run = parse("run --help").expect_err("help").to_string();
    for flag in [
        "--scenario",
        "--seeds",
        "--shard",
        "--check-determinism",
        "--jobs",
        "--json",
    ] {
        assert!(run.contains(flag), "{flag}: {run}");
    }
}
