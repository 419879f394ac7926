import { expect, Page, test } from "@playwright/test";

/** The demo's owner, seeded by `tally demo` (demo data only). */
const OWNER = { email: "owner@demo.test", password: "demo-password" };

async function signIn(page: Page) {
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/admin\/login$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

test("the console is server-rendered, then hydrated: the snippet toggle works", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await signIn(page);
  // Server-rendered content is there before any WASM runs.
  const card = page.locator('.program-card[data-program-id="prg_demo"]');
  await expect(card.locator(".program-name")).toHaveText("Demo Store");
  // Clicking before hydration would do nothing: wait for the WASM to take over.
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  const toggle = card.getByRole("button", { name: "Show install snippet" });
  await expect(toggle).toHaveAttribute("aria-expanded", "false");
  await expect(card.locator(".snippet")).toHaveCount(0);
  await toggle.click();
  const hide = card.getByRole("button", { name: "Hide install snippet" });
  await expect(hide).toHaveAttribute("aria-expanded", "true");
  await expect(card.locator(".snippet")).toContainText('data-program="pk_demo"');
  await hide.click();
  await expect(card.locator(".snippet")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("the dashboard shows what the API wrote, exports it as CSV, and sign-out ends the session", async ({ page, request }) => {
  const headers = { Authorization: "Bearer sk_demo_not_secret" };
  const customer = `e2e-${Date.now()}`;
  const order = {
    event_id: `${customer}-order`, customer_id: customer, type: "order", order_id: `${customer}-order`,
    currency: "USD", subtotal: 987_600, shipping: 0, tax: 0, discount: 0, lines: [],
  };
  expect((await request.post("/api/v1/events", { headers, data: order })).status()).toBe(201);

  await signIn(page);
  await page.locator('.program-card[data-program-id="prg_demo"] .program-name').click();
  await expect(page).toHaveURL(/\/admin\/programs\/prg_demo$/);
  await expect(page.locator("#status svg")).toBeVisible();
  // The new customer's 9,876 points make them the top earner of the month.
  const top = page.locator(".top-earners tbody tr").first();
  await expect(top).toHaveAttribute("data-customer", customer);
  await expect(top).toContainText("9,876");
  const issued = Number((await page.locator('[data-stat="issued"] dd').innerText()).replace(/,/g, ""));
  expect(issued).toBeGreaterThanOrEqual(9_876);

  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const file = await (await download).path();
  const csv = require("node:fs").readFileSync(file, "utf8") as string;
  expect(csv.split("\n")[0]).toBe("created_at,customer_id,kind,points,source,reference,order_id,balance_after");
  expect(csv).toContain(`,${customer},earn,9876,purchase,`);

  // A write without the session's CSRF token is refused, even from the console's origin.
  const forged = await page.request.post("/admin/fn/sign_out", {
    form: { csrf: "forged" },
    headers: { Origin: new URL(page.url()).origin },
  });
  expect(forged.status()).toBe(403);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/admin\/login$/);
  await page.goto("/admin/programs/prg_demo");
  await expect(page).toHaveURL(/\/admin\/login$/);
});
