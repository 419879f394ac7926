//! `cargo xtask`: Tally's build tool. It does what cargo-leptos does for this workspace (same
//! `[[workspace.metadata.leptos]]` conventions, same `target/site` layout) without needing
//! cargo-leptos, which takes half an hour to compile on a small machine; plus the widget bundle.
//!
//!   cargo xtask build [--release]   WASM bundles (size-optimised) + the server binary
//!   cargo xtask demo [ARGS...]      build, then `tally demo ARGS...`
//!   cargo xtask sizes               widget bundle size, raw and gzip
//!   cargo xtask bench               API load benchmark (release build) against pgbench
//!   cargo xtask bench-dashboard     the dashboard sections timed on a seeded 100k-customer program

mod bundle;

use std::{
    env,
    path::PathBuf,
    process::{Command, ExitCode},
};

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(&Workspace::locate(), args.iter().any(|a| a == "--release")).map(drop),
        Some("demo") => demo(&args[1..]),
        Some("sizes") => bundle::report_sizes(&Workspace::locate()),
        Some("bench") => bench(&Workspace::locate()),
        Some("bench-dashboard") => bench_dashboard(),
        _ => Err("usage: cargo xtask build [--release] | demo [TALLY DEMO ARGS...] | sizes | bench | bench-dashboard"
            .to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Paths of this checkout and of its build outputs.
pub struct Workspace {
    pub root: PathBuf,
    pub target_dir: PathBuf,
}

impl Workspace {
    fn locate() -> Self {
        // Read at run time, not compile time: checkouts share one target dir, so this binary
        // may have been compiled in another checkout.
        let xtask_dir = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).expect("run me with `cargo xtask`");
        let root = xtask_dir.parent().expect("xtask lives in the workspace").to_owned();
        let target_dir = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        Self { root, target_dir }
    }

    /// cargo-leptos's `site-root`: always inside the checkout, wherever cargo's target dir is.
    pub fn site(&self) -> PathBuf {
        self.root.join("target").join("site")
    }
}

/// Builds everything the server serves; returns the path of the `tally` binary.
fn build(ws: &Workspace, release: bool) -> Result<PathBuf, String> {
    bundle::build_console(ws)?;
    bundle::build_widget(ws)?;
    let mut cargo = cargo();
    cargo.args(["build", "--package", "tally-server", "--bin", "tally"]);
    if release {
        cargo.arg("--release");
    }
    run(&mut cargo)?;
    bundle::report_sizes(ws)?;
    Ok(ws.target_dir.join(if release { "release" } else { "debug" }).join("tally"))
}

fn demo(args: &[String]) -> Result<(), String> {
    let ws = Workspace::locate();
    let tally = build(&ws, false)?;
    // Run from the checkout so the default site root (target/site) is found.
    run(Command::new(tally).arg("demo").args(args).current_dir(&ws.root))
}

/// Release builds of the server and the benchmark, then the benchmark.
fn bench(ws: &Workspace) -> Result<(), String> {
    run(cargo().args(["build", "--release", "--package", "tally-server", "--bin", "tally"]))?;
    run(cargo().args(["build", "--release", "--package", "tally-bench"]))?;
    let release = ws.target_dir.join("release");
    run(Command::new(release.join("tally-bench")).env("TALLY_BIN", release.join("tally")))
}

/// The dashboard's sections timed at scale (release build; see bench/src/bin/dashboard.rs).
fn bench_dashboard() -> Result<(), String> {
    run(cargo().args(["run", "--release", "--package", "tally-bench", "--bin", "dashboard"]))
}

pub fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command with inherited output; a failure names the command.
pub fn run(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|error| format!("cannot start {:?}: {error}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", command.get_program()))
    }
}
