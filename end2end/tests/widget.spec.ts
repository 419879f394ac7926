import { expect, Page, test } from "@playwright/test";
import { consoleUrl, storefrontUrl } from "../playwright.config";

/** The widget's elements live in its (open) shadow root; Playwright's CSS locators pierce it. */
const inWidget = (page: Page, selector: string) => page.locator(`#tally-widget ${selector}`);

function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  return errors;
}

/** The demo program's API key, seeded by `tally demo` (demo data only). */
const DEMO_SECRET_KEY = "sk_demo_not_secret";

test("a visitor who is not signed in sees how to join, ways to earn and rewards", async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto(`${storefrontUrl}/guest`);
  expect(new URL(storefrontUrl).origin).not.toBe(new URL(consoleUrl).origin);
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".title")).toHaveText("Demo Store");
  await expect(inWidget(page, ".lead")).toContainText("Join to earn");
  // The join and sign-in links come from the program's settings (the demo points at its storefront).
  const join = inWidget(page, ".join a.button");
  await expect(join).toHaveText("Join now");
  await expect(join).toHaveAttribute("href", `${storefrontUrl}/join`);
  await expect(inWidget(page, ".join a.link")).toHaveText("Already a member? Sign in");
  await expect(inWidget(page, ".join a.link")).toHaveAttribute("href", `${storefrontUrl}/`);
  await expect(inWidget(page, ".list").first()).toContainText("Write a review");
  await expect(inWidget(page, ".balance")).toHaveCount(0);
  await join.click();
  await expect(page).toHaveURL(`${storefrontUrl}/join`);
  expect(errors).toEqual([]);
});

test("colour, launcher corner and label follow the program settings; merchant CSS wins", async ({ page, request }) => {
  const headers = { Authorization: `Bearer ${DEMO_SECRET_KEY}` };
  const original = await (await request.get(`${consoleUrl}/api/v1/settings`, { headers })).json();
  const put = (settings: unknown) =>
    request.put(`${consoleUrl}/api/v1/settings`, {
      headers,
      data: { name: original.name, points_name: original.points_name, allowed_origins: original.allowed_origins, settings },
    });
  const widget = { ...original.settings.widget, primary_color: "#b91c1c", launcher_position: "bottom_left", launcher_label: "Club points" };
  expect((await put({ ...original.settings, widget })).status()).toBe(200);
  try {
    await page.goto(`${storefrontUrl}/guest`);
    const launcher = inWidget(page, ".launcher");
    await expect(launcher).toHaveText("Club points");
    await expect(launcher).toHaveCSS("background-color", "rgb(185, 28, 28)");
    const box = await launcher.boundingBox();
    expect(box!.x).toBeLessThan(100); // bottom left, not right
    await page.addStyleTag({ content: "#tally-widget { --tally-primary: rgb(0, 128, 0); }" });
    await expect(launcher).toHaveCSS("background-color", "rgb(0, 128, 0)");
  } finally {
    expect((await put(original.settings)).status()).toBe(200);
  }
});

test("when Tally is unreachable the panel says so and retry recovers", async ({ page }) => {
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await page.route("**/widget/v1/**", (route) => route.abort("connectionrefused"));
  await page.goto(`${storefrontUrl}/guest`);
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".error")).toHaveText("Rewards are unavailable right now.");
  await page.unroute("**/widget/v1/**");
  await inWidget(page, ".panel").getByRole("button", { name: "Try again" }).click();
  await expect(inWidget(page, ".title")).toHaveText("Demo Store");
  expect(pageErrors).toEqual([]);
});

test("a signed-in shopper sees exactly the balance and tier the REST API reports", async ({ page, request }) => {
  const errors = collectErrors(page);
  const api = await request.get(`${consoleUrl}/api/v1/customers/demo-shopper`, {
    headers: { Authorization: `Bearer ${DEMO_SECRET_KEY}` },
  });
  expect(api.status()).toBe(200);
  const customer = await api.json();

  await page.goto(`${storefrontUrl}/`);
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".balance-points")).toHaveText(customer.available.toLocaleString("en"));
  await expect(inWidget(page, ".tier-badge")).toHaveText(customer.tiers.tier.name);
  expect(errors).toEqual([]);
});

test("redeeming gives a coupon, lowers the balance and fires tally:redeemed", async ({ page }) => {
  const errors = collectErrors(page);
  await page.goto(`${storefrontUrl}/`);
  await page.evaluate(() => {
    document.addEventListener("tally:redeemed", (event) => {
      (window as any).redeemed = (event as CustomEvent).detail;
    });
  });
  await inWidget(page, ".launcher").click();
  const before = Number((await inWidget(page, ".balance-points").innerText()).replace(/\D/g, ""));
  const reward = inWidget(page, ".reward").filter({ hasText: "Free shipping" });
  await reward.getByRole("button", { name: "Redeem" }).click();
  await reward.getByRole("button", { name: "Confirm" }).click();

  const code = inWidget(page, ".coupon-code");
  await expect(code).toHaveText(/^TALLY-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  await expect(inWidget(page, ".balance-points")).toHaveText((before - 300).toLocaleString("en"));
  const detail = await page.waitForFunction(() => (window as any).redeemed).then((handle) => handle.jsonValue());
  expect(detail.code).toBe(await code.innerText());
  expect(errors).toEqual([]);
});

test("a forged customer token shows the guest view and says why in the console", async ({ page }) => {
  const warnings: string[] = [];
  page.on("console", (message) => warnings.push(message.text()));
  await page.goto(`${storefrontUrl}/guest`);
  await page.waitForFunction(() => (window as any).Tally);
  await page.evaluate(() => {
    // Right shape, signed with some other secret.
    const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vLXNob3BwZXIiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJlLW9mLWFub3RoZXI";
    (window as any).Tally.setCustomerToken(forged);
    (window as any).Tally.open();
  });
  await expect(inWidget(page, ".lead")).toContainText("Join to earn");
  await expect(inWidget(page, ".balance")).toHaveCount(0);
  await expect.poll(() => warnings.some((text) => text.includes("customer token refused"))).toBe(true);
});

test("data-locale=ko shows the widget in Korean with Korean number formatting", async ({ page }) => {
  await page.goto(`${storefrontUrl}/?locale=ko`);
  // Visible means the program's branding has loaded; the demo sets no label of its own.
  await expect(inWidget(page, ".launcher")).toBeVisible();
  await expect(inWidget(page, ".launcher")).toHaveText("리워드");
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".balance")).toBeVisible();
  await expect(inWidget(page, ".section").first()).toHaveText("리워드");
  await expect(inWidget(page, ".balance")).toContainText("사용 가능");
});

test("styles are isolated both ways, even against hostile global CSS", async ({ page }) => {
  await page.goto(`${storefrontUrl}/guest`);
  await page.addStyleTag({ content: "* { all: unset !important; } html { font-size: 40px !important; }" });
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".title")).toBeVisible();

  const styles = await page.evaluate(() => {
    const decoy = document.createElement("h2");
    decoy.className = "title";
    decoy.textContent = "decoy";
    document.body.appendChild(decoy);
    const hostile = document.createElement("style");
    hostile.textContent = ".title { color: rgb(255, 0, 0) !important; font-size: 64px !important; }";
    document.head.appendChild(hostile);
    const host = document.getElementById("tally-widget")!;
    const title = host.shadowRoot!.querySelector(".title")!;
    return {
      decoyFontSize: getComputedStyle(decoy).fontSize,
      widgetColor: getComputedStyle(title).color,
      widgetFontSize: getComputedStyle(title).fontSize,
      widgetFont: getComputedStyle(title).fontFamily,
      hostPosition: getComputedStyle(host).position,
    };
  });
  expect(styles.decoyFontSize).toBe("64px");
  expect(styles.widgetColor).toBe("rgb(15, 118, 110)"); // the demo program's colour
  expect(styles.widgetFontSize).toBe("18px");
  expect(styles.widgetFont).not.toContain("Georgia");
  expect(styles.hostPosition).toBe("fixed");
});

test("keyboard only: open, redeem with confirmation, Escape closes and focus returns", async ({ page }) => {
  await page.goto(`${storefrontUrl}/`);
  await expect(inWidget(page, ".launcher")).toBeVisible();
  await inWidget(page, ".launcher").focus();
  await page.keyboard.press("Enter");
  await expect(inWidget(page, ".balance-points")).toBeVisible();
  // Focus moved into the dialog (its close button).
  await expect(inWidget(page, ".close")).toBeFocused();

  const before = Number((await inWidget(page, ".balance-points").innerText()).replace(/\D/g, ""));
  const redeem = inWidget(page, ".reward").filter({ hasText: "Free shipping" }).getByRole("button", { name: "Redeem" });
  for (let presses = 0; presses < 20 && !(await redeem.evaluate((el) => el.matches(":focus"))); presses++) {
    await page.keyboard.press("Tab");
  }
  await expect(redeem).toBeFocused();
  await page.keyboard.press("Enter");
  const confirm = inWidget(page, ".reward").filter({ hasText: "Free shipping" }).getByRole("button", { name: "Confirm" });
  await confirm.focus(); // the confirm button replaces the one that had focus
  await page.keyboard.press("Enter");
  await expect(inWidget(page, ".coupon-code")).toBeVisible();
  await expect(inWidget(page, ".balance-points")).toHaveText((before - 300).toLocaleString("en"));
  await expect(inWidget(page, ".coupon").getByRole("button", { name: "Copy" })).toBeFocused();
  // Copying says so, and the clipboard holds the code.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(page.url()).origin });
  const code = await inWidget(page, ".coupon-code").innerText();
  await page.keyboard.press("Enter");
  await expect(inWidget(page, ".coupon").getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);

  // Tab never leaves the open dialog.
  for (let presses = 0; presses < 30; presses++) {
    await page.keyboard.press("Tab");
    const inside = await page.evaluate(() => document.activeElement?.id === "tally-widget");
    expect(inside).toBe(true);
  }
  await page.keyboard.press("Escape");
  await expect(inWidget(page, ".panel")).toBeHidden();
  await expect(inWidget(page, ".launcher")).toBeFocused();
});

test("on a narrow screen the open panel fills the screen", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${storefrontUrl}/`);
  await inWidget(page, ".launcher").click();
  await expect(inWidget(page, ".balance-points")).toBeVisible();
  const box = await inWidget(page, ".panel").boundingBox();
  expect(box).toEqual({ x: 0, y: 0, width: 375, height: 740 });
  // Scrolled to its end, the panel keeps its close button in reach.
  await inWidget(page, ".panel").evaluate((panel) => { panel.scrollTop = panel.scrollHeight; });
  await expect.poll(() => inWidget(page, ".panel").evaluate((panel) => panel.scrollTop)).toBeGreaterThan(0);
  await expect(inWidget(page, ".close")).toBeInViewport({ ratio: 1 });
  await page.screenshot({ path: test.info().outputPath("widget-phone-scrolled.png") });
  await inWidget(page, ".close").click();
  await expect(inWidget(page, ".panel")).toBeHidden();
});

test("the shopper sees their usable coupons and pages through their points history", async ({ page }) => {
  await page.goto(`${storefrontUrl}/`);
  await inWidget(page, ".launcher").click();
  const reward = inWidget(page, ".reward").filter({ hasText: "Free shipping" });
  await reward.getByRole("button", { name: "Redeem" }).click();
  await reward.getByRole("button", { name: "Confirm" }).click();
  const code = await inWidget(page, ".coupon .coupon-code").innerText();
  await expect(inWidget(page, ".coupons")).toContainText(code);

  await inWidget(page, ".panel").getByRole("button", { name: "Points history" }).click();
  const history = inWidget(page, ".history .row");
  await expect(history.first()).toContainText("Reward");
  await expect(history.first()).toContainText("-300");
  await expect(history.last()).toContainText("Shop");
  await expect(history.last()).toContainText("+1,200");
});
