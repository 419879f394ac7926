//! The browser bundles: cargo for wasm32, then wasm-bindgen, wasm-opt and precompression.

use std::{
    env, fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{cargo, run, Workspace};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The size-first profile declared in the workspace Cargo.toml.
const WASM_PROFILE: &str = "wasm-release";
/// Features the Rust wasm32 target emits by default; wasm-opt must accept them.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The console's hydration bundle and stylesheet, into `target/site/pkg` (cargo-leptos layout).
pub fn build_console(ws: &Workspace) -> Result<(), String> {
    let wasm = compile_wasm(ws, "tally-app", Some("hydrate"))?;
    let pkg = ws.site().join("pkg");
    bindgen_and_optimise(ws, &wasm, &pkg, "tally")?;
    copy(&ws.root.join("style/console.css"), &pkg.join("tally.css"))?;
    precompress_dir(&pkg)
}

/// The widget bundle, into `target/site/widget` under content-hashed names, plus the
/// `manifest.json` the server's `/widget.js` loader reads.
pub fn build_widget(ws: &Workspace) -> Result<(), String> {
    let wasm = compile_wasm(ws, "tally-widget", None)?;
    let staging = ws.target_dir.join("widget-staging");
    bindgen_and_optimise(ws, &wasm, &staging, "tally_widget")?;
    let js = read(&staging.join("tally_widget.js"))?;
    let wasm = read(&staging.join("tally_widget_bg.wasm"))?;
    let hash = fnv1a_hex(&[js.as_slice(), wasm.as_slice()].concat());
    let out = ws.site().join("widget");
    // Old hashed bundles go: a server serves the bundle it was built with.
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let js_name = format!("tally-widget.{hash}.js");
    let wasm_name = format!("tally-widget.{hash}.wasm");
    write(&out.join(&js_name), &js)?;
    write(&out.join(&wasm_name), &wasm)?;
    let manifest = format!("{{\"js\":\"{js_name}\",\"wasm\":\"{wasm_name}\"}}\n");
    write(&out.join("manifest.json"), manifest.as_bytes())?;
    precompress_dir(&out)
}

fn compile_wasm(ws: &Workspace, package: &str, feature: Option<&str>) -> Result<PathBuf, String> {
    let mut command = cargo();
    command.args(["build", "--package", package, "--lib", "--target", WASM_TARGET, "--profile", WASM_PROFILE]);
    command.arg("--no-default-features");
    if let Some(feature) = feature {
        command.args(["--features", feature]);
    }
    run(&mut command)?;
    Ok(ws.target_dir.join(WASM_TARGET).join(WASM_PROFILE).join(format!("{}.wasm", package.replace('-', "_"))))
}

fn bindgen_and_optimise(ws: &Workspace, wasm: &Path, out_dir: &Path, out_name: &str) -> Result<(), String> {
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--no-typescript", "--out-name", out_name, "--out-dir"])
        .arg(out_dir)
        .arg(wasm))
    .map_err(|e| format!("{e}\n  (is the pinned wasm-bindgen-cli installed? run ./scripts/bootstrap)"))?;
    minify_js(ws, &out_dir.join(format!("{out_name}.js")))?;
    let bg = out_dir.join(format!("{out_name}_bg.wasm"));
    run(Command::new(npm_tool(ws, "TALLY_WASM_OPT", "wasm-opt"))
        .args(["-Oz", "--strip-debug", "--strip-producers"])
        .args(WASM_FEATURES)
        .arg(&bg)
        .arg("-o")
        .arg(&bg))
    .map_err(|e| format!("{e}\n  (wasm-opt comes from npm's binaryen: run ./scripts/bootstrap)"))
}

/// wasm-bindgen's glue is written to be read (about 40 KB); minified it gzips to 2 KB less.
fn minify_js(ws: &Workspace, js: &Path) -> Result<(), String> {
    let minified = js.with_extension("min.js");
    run(Command::new(npm_tool(ws, "TALLY_ESBUILD", "esbuild"))
        .arg(js)
        .args(["--minify", "--format=esm", "--log-level=warning"])
        .arg(format!("--outfile={}", minified.display())))
    .map_err(|e| format!("{e}\n  (esbuild comes from npm: run ./scripts/bootstrap)"))?;
    fs::rename(&minified, js).map_err(|e| format!("cannot replace {}: {e}", js.display()))
}

/// A build tool: the path in `variable`, else the checkout's npm install, else PATH.
fn npm_tool(ws: &Workspace, variable: &str, name: &str) -> PathBuf {
    if let Some(path) = env::var_os(variable) {
        return path.into();
    }
    let local = ws.root.join("node_modules/.bin").join(name);
    if local.exists() {
        local
    } else {
        name.into()
    }
}

/// Writes `.gz` and `.br` beside every JS, WASM and CSS file, for the server to send as is.
fn precompress_dir(dir: &Path) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let compressible = matches!(path.extension().and_then(|e| e.to_str()), Some("js" | "wasm" | "css"));
        if !compressible {
            continue;
        }
        let raw = read(&path)?;
        write(&with_suffix(&path, "gz"), &gzip(&raw))?;
        let mut br = Vec::new();
        let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
        brotli::BrotliCompress(&mut raw.as_slice(), &mut br, &params).map_err(|e| e.to_string())?;
        write(&with_suffix(&path, "br"), &br)?;
    }
    Ok(())
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(raw).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

/// Prints the widget's transfer size: what a storefront visitor downloads.
pub fn report_sizes(ws: &Workspace) -> Result<(), String> {
    let dir = ws.site().join("widget");
    let mut raw_total = 0;
    let mut gzip_total = 0;
    for ext in ["js", "wasm"] {
        let file = fs::read_dir(&dir)
            .map_err(|e| format!("no widget bundle in {} ({e}): run `cargo xtask build`", dir.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .find(|path| path.extension().and_then(|e| e.to_str()) == Some(ext))
            .ok_or_else(|| format!("no .{ext} file in {}", dir.display()))?;
        let raw = read(&file)?;
        let gz = gzip(&raw).len();
        println!("widget {ext:>4}: {:>8} bytes raw, {gz:>7} bytes gzip  ({})", raw.len(), file.display());
        raw_total += raw.len();
        gzip_total += gz;
    }
    println!("widget total: {raw_total:>8} bytes raw, {gzip_total:>7} bytes gzip");
    Ok(())
}

fn fnv1a_hex(bytes: &[u8]) -> String {
    let hash = bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    name.into()
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to).map(drop).map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}
