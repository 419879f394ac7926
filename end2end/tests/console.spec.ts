import { expect, Page, test } from "@playwright/test";
import { storefrontUrl } from "../playwright.config";

/** The demo's owner and read-only viewer, seeded by `tally demo` (demo data only). */
const OWNER = { email: "owner@demo.test", password: "demo-password" };
const VIEWER = { email: "viewer@demo.test", password: "demo-password" };

async function signIn(page: Page, user = OWNER) {
  await page.goto("/admin");
  await expect(page).toHaveURL(/\/admin\/login$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(user.email);
  await page.getByLabel("Password").fill(user.password);
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

/** A customer of the demo program with `points` from an order, created through the REST API. */
async function customerWithPoints(request: import("@playwright/test").APIRequestContext, name: string, points: number) {
  const headers = { Authorization: "Bearer sk_demo_not_secret" };
  const id = `e2e-${name.toLowerCase().replace(/ /g, "-")}-${Date.now()}`;
  expect((await request.put(`/api/v1/customers/${id}`, { headers, data: { name } })).status()).toBe(200);
  const order = {
    event_id: `${id}-order`, customer_id: id, type: "order", order_id: `${id}-order`,
    currency: "USD", subtotal: points * 100, shipping: 0, tax: 0, discount: 0, lines: [],
  };
  expect((await request.post("/api/v1/events", { headers, data: order })).status()).toBe(201);
  return id;
}

test("an admin finds a customer, adjusts points after a review step, and sees the entry and the audit", async ({ page, request }) => {
  const customer = await customerWithPoints(request, "Adjust Me", 120);
  const reason = `Late delivery ${Date.now()}`;
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/customers");
  await page.getByRole("searchbox").fill(customer);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.locator(`.customers tbody tr[data-customer="${customer}"]`);
  await expect(row).toContainText("Adjust Me");
  await expect(row.locator("td.num").first()).toHaveText("120");
  await row.getByRole("link", { name: customer }).click();
  await expect(page.locator('[data-stat="available"] dd')).toHaveText("120");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  await page.getByLabel("Points (negative to take away)").fill("25");
  await page.getByLabel("Reason (shown in the ledger)").fill(reason);
  await page.getByRole("button", { name: "Review" }).click();
  // Nothing is written until the admin confirms what they reviewed.
  await expect(page.locator(".confirm-summary")).toContainText("Add 25 points: the balance goes from 120 to 145.");
  const before = await request.get(`/api/v1/customers/${customer}`, { headers: { Authorization: "Bearer sk_demo_not_secret" } });
  expect((await before.json()).available).toBe(120);
  await page.getByRole("button", { name: "Confirm adjustment" }).click();
  await expect(page.locator(".adjust .notice")).toHaveText("Added 25 points. Balance now 145.");
  await expect(page.locator('[data-stat="available"] dd')).toHaveText("145");
  const entry = page.locator(".ledger tbody tr").first();
  await expect(entry).toHaveAttribute("data-kind", "adjust");
  await expect(entry).toContainText(reason);
  const after = await request.get(`/api/v1/customers/${customer}`, { headers: { Authorization: "Bearer sk_demo_not_secret" } });
  expect((await after.json()).available).toBe(145);

  await page.getByRole("link", { name: "Audit log" }).click();
  const audited = page.locator('.audit tbody tr[data-action="customer.adjust"]').filter({ hasText: customer });
  await expect(audited).toHaveCount(1);
  await expect(audited).toContainText(reason);
  await expect(audited).toContainText(OWNER.email);
});

test("a viewer sees a customer but cannot change points: no form, and the server refuses the write", async ({ page, request }) => {
  const customer = await customerWithPoints(request, "Look Only", 80);
  await signIn(page, VIEWER);
  await page.goto(`/admin/programs/prg_demo/customers/${customer}`);
  await expect(page.locator('[data-stat="available"] dd')).toHaveText("80");
  await expect(page.locator("[data-read-only]")).toHaveText("Viewers can look, not change points.");
  await expect(page.getByRole("button", { name: "Review" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Audit log" })).toHaveCount(0);

  // Even a hand-made request with the viewer's own valid CSRF token is refused.
  const origin = new URL(page.url()).origin;
  const me = await (await page.request.post("/admin/fn/me", { headers: { Origin: origin } })).json();
  const write = await page.request.post("/admin/fn/adjust_points", {
    headers: { Origin: origin },
    form: { program: "prg_demo", customer, csrf: me.csrf, adjustment_id: "console_viewer_try", points: "5", reason: "viewer" },
  });
  expect(write.status()).toBe(403);
  const after = await request.get(`/api/v1/customers/${customer}`, { headers: { Authorization: "Bearer sk_demo_not_secret" } });
  expect((await after.json()).available).toBe(80);
});

test("a reward created in the console, with field messages and a live preview, reaches the widget; deactivating removes it", async ({ page, context }) => {
  const name = `E2E tote ${Date.now()}`;
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/rewards");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "New reward" }).click();
  const editor = page.getByRole("form", { name: "New reward" });
  await editor.getByLabel("Name").fill(name);
  await editor.getByLabel("Amount off (in USD)").fill("7.555");
  await editor.getByLabel("Points it costs").fill("321");
  await expect(editor.locator(".preview")).toHaveText("Not ready: amount: an amount of USD with at most 2 decimals, e.g. 5.00");
  await editor.getByRole("button", { name: "Save reward" }).click();
  // The server's message sits on the field it is about.
  const amount = editor.getByLabel("Amount off (in USD)");
  await expect(amount).toHaveAttribute("aria-invalid", "true");
  await expect(editor.locator("#amount-message")).toHaveText("an amount of USD with at most 2 decimals, e.g. 5.00");
  await amount.fill("7.5");
  await expect(editor.locator(".preview")).toHaveText("USD 7.50 off the order for 321 points; the coupon is valid 30 days.");
  await editor.getByRole("button", { name: "Save reward" }).click();
  const row = page.locator(".rewards tbody tr").filter({ hasText: name });
  await expect(row).toHaveAttribute("data-active", "true");
  await expect(row).toContainText("USD 7.50 off the order");
  await expect(editor).toHaveCount(0);

  const shop = await context.newPage();
  await shop.goto(`${storefrontUrl}/guest`);
  await shop.locator("#tally-widget .launcher").click();
  const offered = shop.locator("#tally-widget .list .row").filter({ hasText: name });
  await expect(offered).toContainText("321");

  await row.getByRole("button", { name: "Deactivate" }).click();
  await expect(page.locator(".rewards tbody tr").filter({ hasText: name })).toHaveAttribute("data-active", "false");
  await shop.reload();
  await shop.locator("#tally-widget .launcher").click();
  await expect(shop.locator("#tally-widget .title")).toHaveText("Demo Store");
  await expect(shop.locator("#tally-widget .list .row").filter({ hasText: name })).toHaveCount(0);
});

test("the install page shows the snippets and a live widget; a key is shown once, works, and stops when revoked", async ({ page, request }) => {
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/install");
  await expect(page.locator('[data-snippet="script"]')).toContainText('/widget.js" data-program="pk_demo"');
  await expect(page.locator('[data-snippet="python"]')).toContainText('algorithm="HS256"');
  // The live preview: the real widget, in this page's corner.
  await page.locator("#tally-widget .launcher").click();
  await expect(page.locator("#tally-widget .title")).toHaveText("Demo Store");
  await page.locator("#tally-widget .close").click();

  await page.getByRole("button", { name: "Create a key" }).click();
  const secret = (await page.locator('[data-secret="api-key"]').innerText()).trim();
  expect(secret).toMatch(/^sk_/);
  const headers = { Authorization: `Bearer ${secret}` };
  expect((await request.get("/api/v1/rewards", { headers })).status()).toBe(200);

  const prefix = secret.slice(0, 10);
  const row = page.locator(".keys tbody tr").filter({ hasText: prefix });
  await expect(row).toHaveAttribute("data-live", "true");
  page.once("dialog", (dialog) => dialog.accept());
  await row.getByRole("button", { name: "Revoke" }).click();
  await expect(page.locator(".keys tbody tr").filter({ hasText: prefix })).toHaveAttribute("data-live", "false");
  expect((await request.get("/api/v1/rewards", { headers })).status()).toBe(401);
});

test("settings saved in the console change the widget; a bad value is named on its field", async ({ page, context }) => {
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/settings");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const settings = page.getByRole("form", { name: "Program settings" });
  const colour = settings.getByLabel("Colour (#rrggbb; empty for the default)");
  const original = await colour.inputValue();
  await colour.fill("teal");
  await settings.getByRole("button", { name: "Save settings" }).click();
  await expect(colour).toHaveAttribute("aria-invalid", "true");
  await expect(settings.locator("#primary_color-message")).toHaveText("a colour like #4f46e5");
  await colour.fill(original);
  const label = settings.getByLabel(/Launcher label/);
  await label.fill("E2E Perks");
  await expect(settings.locator(".launcher-sample")).toHaveText("E2E Perks");
  await settings.getByRole("button", { name: "Save settings" }).click();
  await expect(settings.locator(".notice-inline")).toHaveText("Saved.");

  const shop = await context.newPage();
  await shop.goto(`${storefrontUrl}/guest`);
  await expect(shop.locator("#tally-widget .launcher")).toHaveText("E2E Perks");

  // Put the demo back as it was for the other tests.
  await label.fill("");
  await settings.getByRole("button", { name: "Save settings" }).click();
  await expect(settings.locator(".notice-inline")).toHaveText("Saved.");
  await shop.reload();
  await expect(shop.locator("#tally-widget .launcher")).toHaveText("Rewards");
});

test("the earning rules page previews points with the ledger's arithmetic as the admin types", async ({ page }) => {
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/earning");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const preview = page.locator(".preview-lines li").first();
  await expect(preview).toHaveText("An order of USD 80.00 earns 80 points; 88 at Silver; 120 at Gold.");
  await page.getByLabel("An order of (in USD)").fill("100");
  await expect(preview).toHaveText("An order of USD 100.00 earns 100 points; 110 at Silver; 150 at Gold.");
  const rules = page.getByRole("form", { name: "Earning rules" });
  await rules.getByLabel("Points", { exact: true }).first().fill("2");
  await expect(preview).toHaveText("An order of USD 100.00 earns 200 points; 220 at Silver; 300 at Gold.");
  // Nothing is saved by previewing.
  await page.reload();
  await expect(page.locator(".preview-lines li").first()).toHaveText("An order of USD 80.00 earns 80 points; 88 at Silver; 120 at Gold.");
});

test("tiers and campaigns are described in words as the admin edits them", async ({ page }) => {
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/loyalty");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const lines = page.locator(".preview-lines li");
  await expect(lines.first()).toHaveText("Silver from 500 points earned since they joined, purchases earn 1.1x: 1.1x points.");
  await page.getByRole("button", { name: "Add a campaign" }).click();
  const campaign = page.locator("table.actions").nth(1).locator("tbody tr").last();
  await campaign.getByLabel("Name").fill("Black Friday");
  await campaign.getByLabel("First day").fill("2026-11-27");
  await campaign.getByLabel("Last day").fill("2026-11-30");
  await expect(lines.last()).toHaveText("Black Friday: 2x points on purchases, 2026-11-27 to 2026-11-30.");
});

test("an owner adds a user who then sees only the program granted; a new password ends their session", async ({ page, browser }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const email = `e2e-${Date.now()}@shop.test`;
  await signIn(page);
  await page.getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("button", { name: "New user" }).click();
  const editor = page.getByRole("form", { name: "New user" });
  await editor.getByLabel("Email").fill(email);
  await editor.getByLabel("Password (at least 10 characters)").fill("short");
  await editor.getByLabel("Role").selectOption("viewer");
  await editor.getByLabel("Demo Store").check();
  // The browser lets a short password through only when the form is sent another way: the
  // server's own check answers on the field.
  await editor.getByLabel("Password (at least 10 characters)").evaluate((input: HTMLInputElement) => input.removeAttribute("minlength"));
  await editor.getByRole("button", { name: "Save user" }).click();
  await expect(editor.locator(".field-error").nth(1)).toHaveText("at least 10 characters");
  await editor.getByLabel("Password (at least 10 characters)").fill("a long enough password");
  await editor.getByRole("button", { name: "Save user" }).click();
  const row = page.locator(`.users tbody tr[data-user="${email}"]`);
  await expect(row).toHaveAttribute("data-role", "viewer");
  await expect(row).toContainText("Demo Store");

  // The new viewer signs in elsewhere and sees the granted program, read-only.
  const other = await browser.newContext({ baseURL: consoleUrlOf(page) });
  const viewer = await other.newPage();
  await signIn(viewer, { email, password: "a long enough password" });
  await expect(viewer.locator(".program-card")).toHaveCount(1);
  await expect(viewer.locator('.program-card[data-program-id="prg_demo"]')).toBeVisible();
  await expect(viewer.getByRole("link", { name: "Users" })).toHaveCount(0);

  // The owner sets a new password: the viewer's session ends.
  await row.getByLabel(`New password for ${email}`).fill("yet another long password");
  await row.getByRole("button", { name: "Set password" }).click();
  await expect(page.locator('p[role="status"]')).toHaveText("Password changed.");
  await viewer.reload();
  await expect(viewer).toHaveURL(/\/admin\/login$/);

  page.once("dialog", (dialog) => dialog.accept());
  await row.getByRole("button", { name: "Remove" }).click();
  await expect(page.locator(`.users tbody tr[data-user="${email}"]`)).toHaveCount(0);
  await other.close();
  expect(errors).toEqual([]);
});

test("the console speaks the language chosen in its menu, and the server's messages too", async ({ page }) => {
  // A page hydrated in other words than the server rendered would panic in the WASM.
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await signIn(page);
  await page.getByLabel("Language").selectOption("ko");
  await expect(page.locator("html")).toHaveAttribute("lang", "ko");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("프로그램");
  await expect(page.getByRole("button", { name: "로그아웃" })).toBeVisible();
  await page.locator('.program-card[data-program-id="prg_demo"] .program-name').click();
  await expect(page.locator("#status-title")).toHaveText("포인트 현황");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  // Hydration renders the same words: the chart's legend is still Korean once the WASM runs.
  await expect(page.locator("#status figcaption")).toContainText("적립과 사용");
  await page.getByRole("link", { name: "적립 규칙" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("적립 규칙");
  await expect(page.locator(".preview-lines li").first()).toContainText("주문 시");
  // The menu's own label is Korean now too.
  await page.getByLabel("언어").selectOption("en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Earning rules");
  expect(errors).toEqual([]);
});

function consoleUrlOf(page: Page): string {
  return new URL(page.url()).origin;
}

test("every user reaches their account from the top bar; a wrong current password is named on its field", async ({ page }) => {
  await signIn(page, VIEWER);
  await page.locator(".topbar a.user").click();
  await expect(page).toHaveURL(/\/admin\/account$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Your account");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const form = page.getByRole("form", { name: "Change your password" });
  await form.getByLabel("Current password").fill("not the password");
  await form.getByLabel("New password (at least 10 characters)").fill("a brand new password");
  await form.getByLabel("Repeat the new password").fill("a brand new password");
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.locator(".field-error").first()).toHaveText("wrong password");
});

test("without JavaScript the edit forms say they need it, and a save never puts the fields in the address", async ({ page, browser }) => {
  await signIn(page);
  const plain = await browser.newContext({
    baseURL: new URL(page.url()).origin,
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  const settingsPage = await plain.newPage();
  await settingsPage.goto("/admin/programs/prg_demo/settings");
  const settings = settingsPage.getByRole("form", { name: "Program settings" });
  await expect(settings.getByRole("note")).toHaveText("Saving this form needs JavaScript.");
  const sent = settingsPage.waitForRequest((request) => request.url().includes("/settings"));
  await settings.getByRole("button", { name: "Save settings" }).click();
  const request = await sent;
  expect(request.method()).toBe("POST");
  expect(new URL(request.url()).search).toBe("");
  // The page itself answers that it needs its script, in words.
  const answer = await request.response();
  expect(answer?.status()).toBe(405);
  await expect(settingsPage.locator("body")).toContainText("turn JavaScript on");
  await plain.close();
});

test("connections: a store is connected with its URL and secret, and a webhook endpoint gets a test event", async ({ page, request }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/connections");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Connections");

  const before = await page.locator("article.store").count();
  await page.getByRole("button", { name: "Connect WooCommerce" }).click();
  await expect(page.locator("article.store")).toHaveCount(before + 1);
  const store = page.locator('article.store[data-platform="woocommerce"]').last();
  await expect(store.locator("[data-webhook-url]")).toContainText("/connections/woocommerce/con_");
  await expect(store.locator("[data-store-secret]")).toHaveText(/^[0-9a-f]{48}$/);
  await expect(store).toContainText("order.created");

  // A real receiver for the test event: this very server answers the POST (405 for a GET-only
  // page is still an answer, shown as the response status).
  const url = `${new URL(page.url()).origin}/healthz`;
  await page.getByLabel("Endpoint URL").fill(url);
  await page.locator('input[type="checkbox"][value="points.earned"]').check();
  await page.getByRole("button", { name: "Add endpoint" }).click();
  const endpoint = page.locator("article.endpoint", { hasText: url });
  await expect(endpoint).toContainText("points.earned");
  await endpoint.getByRole("button", { name: "Send test event" }).click();
  // The worker sends it at once; reload to see what came of it.
  await expect(async () => {
    await page.reload();
    const row = page.locator("article.endpoint", { hasText: url }).locator("tbody tr[data-delivery]").first();
    await expect(row).toContainText("webhook.test", { timeout: 1_000 });
    await expect(row).toHaveAttribute("data-status", /delivered|failed|pending/, { timeout: 1_000 });
    await expect(row.locator("td").nth(4)).toHaveText(/\d{3}/, { timeout: 1_000 });
  }).toPass({ timeout: 15_000 });
  expect(errors).toEqual([]);
  // The API sees the same endpoint.
  const listed = await (await request.get("/api/v1/webhooks", { headers: { Authorization: "Bearer sk_demo_not_secret" } })).json();
  expect(listed.some((row: { url: string }) => row.url === url)).toBe(true);
});

test("the console hydrates under its Content-Security-Policy, breaks none of it, and cannot be framed", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|CSP violation/.test(message.text())) violations.push(message.text());
  });
  await page.addInitScript(() =>
    document.addEventListener("securitypolicyviolation", (event) =>
      console.log(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`),
    ),
  );
  const login = await page.goto("/admin/login");
  const policy = login!.headers()["content-security-policy"];
  expect(policy).toContain("'nonce-");
  expect(policy).toContain("frame-ancestors 'none'");
  expect(login!.headers()["x-frame-options"]).toBe("DENY");
  await signIn(page);
  // Pages with charts, colours set by the merchant (style attributes) and forms.
  for (const path of ["/admin/programs/prg_demo", "/admin/programs/prg_demo/settings",
    "/admin/programs/prg_demo/customers", "/admin/programs/prg_demo/connections"]) {
    await page.goto(path);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  }
  expect(violations).toEqual([]);

  // A storefront (another origin) that tries to frame the console gets nothing.
  await page.goto(storefrontUrl);
  const refused = page.waitForEvent("console", (message) => message.text().includes("frame-ancestors"));
  await page.evaluate((url) => {
    const frame = document.createElement("iframe");
    frame.id = "framed-console";
    frame.src = url;
    document.body.append(frame);
  }, `${new URL(page.url()).protocol}//127.0.0.1:${Number(new URL(storefrontUrl).port) - 1}/admin/login`);
  await refused;
  // The browser shows its own error page in the frame, never the console.
  await expect(page.frameLocator("#framed-console").getByText("Sign in to Tally")).toHaveCount(0);
});

test("an admin downloads a customer's data, then erases it after confirming: the points stay under a pseudonym", async ({ page, request }) => {
  const customer = await customerWithPoints(request, "Erase Me", 80);
  await signIn(page);
  await page.goto(`/admin/programs/prg_demo/customers/${customer}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download everything held about this customer (JSON)" }).click();
  expect((await download).suggestedFilename()).toBe("tally-prg_demo-customer-export.json");

  const erase = page.getByRole("button", { name: "Erase personal data" });
  await erase.click();
  // The browser holds the form until the box is ticked: nothing is erased yet.
  expect((await request.get(`/api/v1/customers/${customer}`, { headers: { Authorization: "Bearer sk_demo_not_secret" } })).status()).toBe(200);
  await page.getByLabel(/I understand/).check();
  await erase.click();
  await expect(page).toHaveURL(/\/customers\/erased_[0-9a-f]+$/);
  await expect(page.locator('[data-stat="available"] dd')).toHaveText("80");
  await expect(page.locator("h1")).not.toContainText("Erase Me");
  const gone = await request.get(`/api/v1/customers/${customer}`, { headers: { Authorization: "Bearer sk_demo_not_secret" } });
  expect(gone.status()).toBe(404);
});
