import { expect, Page, test } from "@playwright/test";

/** The demo's owner (demo data only). */
const OWNER = { email: "owner@demo.test", password: "demo-password" };
const API_KEY = "sk_demo_not_secret";

async function signIn(page: Page) {
  await page.goto("/admin/login");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

/** A LoyaltyLion-style export: the store's customer id, the email, approved points. */
function exportFile(rows: number): Buffer {
  const lines = ["merchant_id,email,points_approved,tier"];
  for (let n = 0; n < rows; n++) {
    lines.push(`imp-${n},imp${n}@example.com,${(n % 50) + 1},`);
  }
  lines.push("imp-bad,not-an-email,5,");
  return Buffer.from(lines.join("\n") + "\n");
}

test("an import is checked first, runs on the server with a live progress bar, and is found again after the page closes", async ({ page }, testInfo) => {
  const rows = 5_000;
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/imports");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.setInputFiles('input[name="file"]', { name: "loyaltylion-export.csv", mimeType: "text/csv", buffer: exportFile(rows) });
  await page.getByRole("button", { name: "Check the file" }).click();
  await expect(page).toHaveURL(/\/admin\/programs\/prg_demo\/imports\/imp_/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  // The dry run: counts, the bad row by its line, the columns read as LoyaltyLion's.
  await expect(page.locator('[data-count="rows"]')).toHaveText("5,000");
  await expect(page.locator('[data-count="new"]')).toHaveText("5,000");
  await expect(page.locator('[data-count="rejected"]')).toHaveText("1");
  await expect(page.locator(`[data-import-errors] tr[data-line="${rows + 2}"]`)).toContainText("email must be an address");
  await expect(page.getByText("Read as a LoyaltyLion file.", { exact: false })).toBeVisible();
  await expect(page.getByLabel("points_approved")).toHaveValue("points");
  await page.screenshot({ path: testInfo.outputPath("import-checked.png"), fullPage: true });
  const check = await page.request.get(`/api/v1/customers/imp-7`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  expect(check.status(), "the dry run wrote nothing").toBe(404);

  // The counts follow the mapping at once: without the ids, rows name customers by an email
  // nobody has yet; mapped again, the rows return.
  await page.getByLabel("merchant_id").selectOption("");
  await expect(page.locator('[data-count="rows"]')).toHaveText("0");
  await expect(page.locator('[data-count="rejected"]')).toHaveText("5,001");
  await expect(page.locator('[data-import-errors] tr[data-line="2"]')).toContainText("no customer has the email imp0@example.com");
  await page.getByLabel("merchant_id").selectOption("customer_id");
  await expect(page.locator('[data-count="rows"]')).toHaveText("5,000");
  await expect(page.locator('[data-count="rejected"]')).toHaveText("1");

  await page.locator("[data-start-import]").click();
  await expect(page.locator("main")).toHaveAttribute("data-import-status", /running|done/);
  await expect(page.locator("progress")).toBeVisible();
  const first = await page.locator("[data-progress]").textContent();
  expect(first).toMatch(/of 5,000 rows/);
  await page.screenshot({ path: testInfo.outputPath("import-running.png"), fullPage: true });
  const address = page.url();

  // The browser tab closes: the server goes on, and the page finds the run again.
  const context = page.context();
  await page.close();
  const again = await context.newPage();
  await again.goto(address);
  await expect(again.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(again.locator("main")).toHaveAttribute("data-import-status", "done", { timeout: 90_000 });
  await expect(again.locator("[data-progress]")).toHaveText("5,000 of 5,000 rows");
  await expect(again.locator('[data-count="written"]')).toHaveText("5,000");
  await again.screenshot({ path: testInfo.outputPath("import-done.png"), fullPage: true });
  const account = await again.request.get(`/api/v1/customers/imp-7`, { headers: { Authorization: `Bearer ${API_KEY}` } });
  expect(account.status()).toBe(200);
  expect((await account.json()).available).toBe(8);
  // The list shows it, done.
  await again.goto("/admin/programs/prg_demo/imports");
  await expect(again.locator('[data-imports] tr[data-status="done"]').first()).toContainText("loyaltylion-export.csv");
});
