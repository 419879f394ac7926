// Widget benchmark (not a test): time from navigation to the shopper's balance painted inside the
// widget's shadow root, in headless Debian chromium against a real `tally demo`, with the
// storefront page's own load time measured in the same run as the baseline. Also reports the
// widget's JS + WASM as transferred (compressed) and decoded.
//
//   npm run bench:widget            (after `cargo xtask build`; RUNS=20 by default)
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { chromium } from "@playwright/test";

const repoRoot = path.resolve(import.meta.dirname, "..", "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache", "tally-target");
const tally = process.env.TALLY_BIN ?? path.join(targetDir, "debug", "tally");
const runs = Number(process.env.RUNS ?? 20);
const port = 3700;
const storefront = `http://127.0.0.1:${port + 1}/`;

const server = spawn(tally, [
  "demo", "--listen", `127.0.0.1:${port}`, "--storefront-listen", `127.0.0.1:${port + 1}`,
  "--database-url", `sqlite://${path.join(os.tmpdir(), `tally-bench-widget-${process.pid}.db`)}`,
], { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve, reject) => {
  server.stdout.on("data", (chunk) => chunk.toString().includes("Demo storefront") && resolve());
  server.on("exit", (code) => reject(new Error(`tally demo exited with ${code}`)));
});

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const balance = [];
const pageLoad = [];
let transfer = null;
try {
  for (let run = 0; run <= runs; run++) {
    // A fresh context each run: nothing cached, as for a first visit.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(storefront, { waitUntil: "load" });
    const loaded = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    await page.evaluate(() => window.Tally.open());
    const painted = await page.evaluate(() => new Promise((resolve) => {
      const check = () => {
        const points = document.getElementById("tally-widget")?.shadowRoot?.querySelector(".balance-points");
        if (points && points.textContent) resolve(performance.now());
        else requestAnimationFrame(check);
      };
      check();
    }));
    if (run > 0) { // the first run warms the server and the OS caches
      balance.push(painted);
      pageLoad.push(loaded);
    }
    if (run === 1) {
      transfer = await page.evaluate(() => performance.getEntriesByType("resource")
        .filter((entry) => /tally-widget\.[0-9a-f]+\.(js|wasm)$/.test(entry.name))
        .reduce((sum, entry) => ({ transferred: sum.transferred + entry.encodedBodySize, decoded: sum.decoded + entry.decodedBodySize }),
          { transferred: 0, decoded: 0 }));
    }
    await context.close();
  }
} finally {
  await browser.close();
  server.kill("SIGTERM");
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const p90 = (values) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.9))];
console.log(`runs: ${runs} (fresh browser context each)`);
console.log(`storefront page load (baseline): median ${median(pageLoad).toFixed(0)} ms, p90 ${p90(pageLoad).toFixed(0)} ms`);
console.log(`navigation -> balance painted:   median ${median(balance).toFixed(0)} ms, p90 ${p90(balance).toFixed(0)} ms`);
console.log(`ratio balance / page load: ${(median(balance) / median(pageLoad)).toFixed(2)}`);
console.log(`widget JS + WASM: ${transfer.transferred} bytes transferred (compressed), ${transfer.decoded} bytes decoded`);
