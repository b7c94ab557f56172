//! `portcullis eval`: the labeled attack/benign corpus through an in-process gateway (`portcullis-eval`).
//!
//! Prints TPR per attack class × placement and per encoding, FPR per benign category and placement, and ends
//! with `overall: TPR …, FPR …`. Without `--config` the gateway runs its default configuration; with `--floors`
//! the exit status says whether the figures meet the CI floors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use portcullis_eval::floors::Floors;
use portcullis_eval::report::{misses, results_json, Report};
use portcullis_eval::run::{default_config, load_config, run as run_corpus, RunOptions};

#[derive(clap::Args)]
pub struct Args {
    /// The corpus: a directory of `*.jsonl` files (tests/corpus) or one file.
    #[arg(long)]
    corpus: PathBuf,
    /// Gateway config to measure; its listeners and upstream targets are replaced (default: the default config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print the report as JSON instead of tables, with every request's outcome and matched rules (`results`).
    #[arg(long)]
    json: bool,
    /// List up to N missed attacks and N false positives with the reason.
    #[arg(long, value_name = "N")]
    show_misses: Option<usize>,
    /// Exit non-zero when the figures are worse than these floors (e.g. tests/corpus/floors.toml).
    #[arg(long)]
    floors: Option<PathBuf>,
    /// Send only entries whose class or placement is this, or whose id starts with it (e.g. `sqli`, `cookie`,
    /// `benign-code`).
    #[arg(long, value_name = "CLASS|PLACEMENT|ID-PREFIX")]
    only: Option<String>,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

pub fn main(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("eval: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eval: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let mut corpus = portcullis_eval::corpus::load_dir(&args.corpus).map_err(|e| e.to_string())?;
    if let Some(only) = &args.only {
        corpus.retain(|e| e.class == *only || e.placement == *only || e.id.starts_with(only.as_str()));
        if corpus.is_empty() {
            return Err(format!("--only {only}: no corpus entry matches"));
        }
    }
    let floors = match &args.floors {
        Some(p) => Some(Floors::load(p).map_err(|e| e.to_string())?),
        None => None,
    };
    let config = match &args.config {
        Some(p) => load_config(p),
        None => default_config(),
    }
    .map_err(|e| e.to_string())?;
    let what = args.config.as_ref().map_or("the default config".to_owned(), |p| p.display().to_string());
    eprintln!("eval: {} requests from {} through {what}", corpus.len(), args.corpus.display());
    let started = Instant::now();
    let opts = RunOptions { concurrency: args.concurrency.max(1), ..RunOptions::default() };
    let results = run_corpus(config, &corpus, &opts).await.map_err(|e| e.to_string())?;
    eprintln!("eval: done in {:.1?}", started.elapsed());
    let report = Report::new(&results);
    if args.json {
        let mut v = report.json();
        if let Some(m) = v.as_object_mut() {
            m.insert("results".into(), results_json(&results));
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        if let Some(n) = args.show_misses {
            println!("{}", misses(&results, n));
        }
        print!("{}", report.text());
    }
    if let Some(f) = floors {
        let violations = f.check(&report);
        if !violations.is_empty() {
            for v in &violations {
                eprintln!("eval: below the floor: {v}");
            }
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}
