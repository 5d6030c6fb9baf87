//! `tessera-bench compare`: whether a change made tessera slower. Issues ask that no figure
//! get more than 5% worse, and on a shared two-core VM the same binary's throughput moves by
//! more than that from one run to the next. So the comparison runs both binaries in turn, in
//! alternating order over several rounds (base, head; head, base; …), drives both with this
//! one load generator, and reports for each scenario
//!
//! - the median throughput of each binary, and
//! - the median *work per operation*: the CPU the server used (plus, on PostgreSQL, the
//!   database's processes) divided by the CPU the load generator used in the same window.
//!   The load generator does the same work per operation for both binaries, so this ratio
//!   does not move when the machine as a whole gets faster or slower, which the throughput
//!   does. It tells a costlier code path from a slower machine.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::load::{Measured, Outcome, Scenario};
use crate::report::{publish, thousands, trim_float};
use crate::server::{git_commit, Surroundings};
use crate::util::Result;
use crate::Load;

/// `tessera-bench compare --base <tessera> [--rounds N] [load benchmark flags]`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The tessera binary to compare with (e.g. built from the commit before a change); the
    /// other one is `--tessera`, or `tessera` next to this program.
    #[arg(long, value_name = "PATH")]
    pub(crate) base: PathBuf,
    /// Rounds; each runs both binaries, in the opposite order from the round before.
    #[arg(long, default_value_t = 3)]
    pub(crate) rounds: usize,
    /// What to call the base's commit in the report (default: the commit of the checkout
    /// the base binary lies in).
    #[arg(long, value_name = "TEXT")]
    pub(crate) base_commit: Option<String>,
    #[command(flatten)]
    pub(crate) load: Load,
}

/// The two binaries, in the order of the report's columns.
const BASE: usize = 0;
const HEAD: usize = 1;

pub(crate) fn run(args: Args) -> Result<()> {
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let scenarios = args.load.scenarios()?;
    let binaries = [
        crate::tessera_binary(Some(&args.base))?,
        crate::tessera_binary(args.load.tessera.as_deref())?,
    ];
    let surroundings = Surroundings::observe(&binaries[HEAD], "tessera-bench compare");
    let mut commits = binaries
        .each_ref()
        .map(|binary| git_commit(binary.parent().unwrap_or(binary)));
    if let Some(commit) = &args.base_commit {
        commits[BASE].clone_from(commit);
    }
    let runtime = args.load.runtime()?;
    let mut runs: [Vec<Vec<(Scenario, Outcome)>>; 2] = Default::default();
    let mut backend = String::new();
    for round in 0..args.rounds {
        let order = if round.is_multiple_of(2) {
            [BASE, HEAD]
        } else {
            [HEAD, BASE]
        };
        for which in order {
            eprintln!(
                "tessera-bench compare: round {} of {}, {} ({})",
                round + 1,
                args.rounds,
                label(which),
                binaries[which].display()
            );
            let (results, _, _, description) =
                runtime.block_on(crate::drive(&args.load, &binaries[which], &scenarios))?;
            runs[which].push(results);
            backend = description;
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "## Comparison of {}\n", surroundings.date);
    let _ = writeln!(out, "- Machine: {}", surroundings.machine.summary());
    let _ = writeln!(
        out,
        "- base: `{}` (commit {}); head: `{}` (commit {})",
        binaries[BASE].display(),
        commits[BASE],
        binaries[HEAD].display(),
        commits[HEAD]
    );
    let _ = writeln!(
        out,
        "- Settings: {backend} backend; {} connections; {} s measured after {} s warm-up per scenario; {} users; {} rounds, each running both binaries, in alternating order",
        args.load.concurrency,
        trim_float(args.load.duration.as_secs_f64()),
        trim_float(args.load.warmup.as_secs_f64()),
        args.load.users,
        args.rounds
    );
    let _ = writeln!(
        out,
        "\nMedians over the rounds. Work per operation: the server's CPU (on PostgreSQL, plus the database's processes) over the load generator's CPU in the same window; the load generator's work per operation is the same for both binaries, so the ratio does not follow the machine's speed.\n"
    );
    let _ = writeln!(
        out,
        "| scenario | base req/s | head req/s | change | base work/op | head work/op | change |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    for &scenario in &scenarios {
        let rates = runs
            .each_ref()
            .map(|runs| median(measured(runs, scenario).map(Measured::per_second)));
        let work = runs
            .each_ref()
            .map(|runs| median(measured(runs, scenario).filter_map(work_per_operation)));
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            scenario.name(),
            rates[BASE].map_or_else(|| "—".into(), thousands),
            rates[HEAD].map_or_else(|| "—".into(), thousands),
            change(rates[BASE], rates[HEAD]),
            work[BASE].map_or_else(|| "—".into(), |w| format!("{w:.3}")),
            work[HEAD].map_or_else(|| "—".into(), |w| format!("{w:.3}")),
            change(work[BASE], work[HEAD]),
        );
    }
    let _ = writeln!(out, "\nEvery run, req/s (work per operation):\n");
    let _ = write!(out, "| run |");
    for scenario in &scenarios {
        let _ = write!(out, " `{}` |", scenario.name());
    }
    let _ = write!(out, "\n|---|");
    for _ in &scenarios {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for round in 0..args.rounds {
        for which in [BASE, HEAD] {
            let _ = write!(out, "| {} {} |", label(which), round + 1);
            for &scenario in &scenarios {
                let cell = measured(&runs[which][round..=round], scenario)
                    .next()
                    .map_or_else(
                        || "—".to_owned(),
                        |m| {
                            let work = work_per_operation(m)
                                .map_or_else(String::new, |w| format!(" ({w:.3})"));
                            format!("{}{work}", thousands(m.per_second()))
                        },
                    );
                let _ = write!(out, " {cell} |");
            }
            let _ = writeln!(out);
        }
    }
    publish(&out, args.load.output.as_deref())
}

fn label(which: usize) -> &'static str {
    if which == BASE {
        "base"
    } else {
        "head"
    }
}

/// The measurements of `scenario` in `runs`.
fn measured(
    runs: &[Vec<(Scenario, Outcome)>],
    scenario: Scenario,
) -> impl Iterator<Item = &Measured> {
    runs.iter()
        .flatten()
        .filter_map(move |(s, outcome)| match outcome {
            Outcome::Ran(m) if *s == scenario => Some(m),
            _ => None,
        })
}

/// Server (and database) CPU over load-generator CPU, where both were read.
fn work_per_operation(m: &Measured) -> Option<f64> {
    let server = m.server_cpu? + m.postgres_cpu.unwrap_or(0.0);
    let bench = m.bench_cpu.filter(|&b| b > 0.0)?;
    Some(server / bench)
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

/// `+3.1%`, `−4.0%`.
fn change(base: Option<f64>, head: Option<f64>) -> String {
    match (base, head) {
        (Some(base), Some(head)) if base > 0.0 => {
            let percent = (head / base - 1.0) * 100.0;
            if percent < 0.0 {
                format!("−{:.1}%", -percent)
            } else {
                format!("+{percent:.1}%")
            }
        }
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_changes() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0].into_iter()), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
        assert_eq!(change(Some(100.0), Some(95.0)), "−5.0%");
        assert_eq!(change(Some(100.0), Some(103.14)), "+3.1%");
        assert_eq!(change(None, Some(1.0)), "—");
    }
}
