import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";

// Tests run against the real `tally demo` binary (built by `cargo xtask build`), on SQLite, with
// the storefront on a second port: a different origin, as on a merchant's shop.
const repoRoot = path.resolve(__dirname, "..");
// The same default as dev.sh: one target dir shared by every checkout.
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(os.homedir(), ".cache", "tally-target");
const tallyBin = process.env.TALLY_BIN ?? path.join(targetDir, "debug", "tally");
const consolePort = Number(process.env.TALLY_E2E_PORT ?? 3400);
const storefrontPort = consolePort + 1;
// SQLite unless TALLY_E2E_DATABASE_URL names another (dev.sh runs some specs on PostgreSQL too).
const databaseUrl = process.env.TALLY_E2E_DATABASE_URL ?? `sqlite://${path.join(os.tmpdir(), `tally-e2e-${process.pid}.db`)}`;

// maildev (npm, at the repository's root) catches the demo's emails; its REST API reads them.
const smtpPort = consolePort + 2;
const inboxPort = consolePort + 3;

export const consoleUrl = `http://127.0.0.1:${consolePort}`;
export const storefrontUrl = `http://127.0.0.1:${storefrontPort}`;
export const inboxUrl = `http://127.0.0.1:${inboxPort}`;

export default defineConfig({
  testDir: "./tests",
  outputDir: "./test-results",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]],
  use: {
    baseURL: consoleUrl,
    screenshot: "on",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's chromium: Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: [
    {
      command: `node_modules/.bin/maildev --ip 127.0.0.1 --smtp ${smtpPort} --web ${inboxPort} --silent`,
      cwd: repoRoot,
      url: `${inboxUrl}/email`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      command: `"${tallyBin}" demo --database-url "${databaseUrl}" --listen 127.0.0.1:${consolePort} --storefront-listen 127.0.0.1:${storefrontPort} --smtp-url smtp://127.0.0.1:${smtpPort} --mail-inbox-url ${inboxUrl}`,
      cwd: repoRoot,
      url: `${consoleUrl}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
