import { APIRequestContext, BrowserContext, expect, Page, test } from "@playwright/test";
import { storefrontUrl } from "../playwright.config";

/** The widget's elements live in its (open) shadow root; Playwright's CSS locators pierce it. */
const inWidget = (page: Page, selector: string) => page.locator(`#tally-widget ${selector}`);

/** The demo program's API key and owner, seeded by `tally demo` (demo data only). */
const DEMO_SECRET_KEY = "sk_demo_not_secret";
const OWNER = { email: "owner@demo.test", password: "demo-password" };

async function available(request: APIRequestContext, customer: string): Promise<number> {
  const response = await request.get(`/api/v1/customers/${customer}`, {
    headers: { Authorization: `Bearer ${DEMO_SECRET_KEY}` },
  });
  return response.status() === 200 ? (await response.json()).available : 0;
}

async function referralCookie(context: BrowserContext): Promise<string | undefined> {
  return (await context.cookies(storefrontUrl)).find((cookie) => cookie.name === "tally_ref")?.value;
}

/** A friend in a browser of their own: opens the link, joins the shop (signed in), so the loader claims the code. */
async function friendJoins(context: BrowserContext, link: string, email: string): Promise<Page> {
  const friend = await context.newPage();
  await friend.goto(link);
  const code = new URL(link).searchParams.get("ref");
  // A new visitor: the guest view, and the code kept first-party by the loader.
  await expect(inWidget(friend, ".launcher")).toBeVisible();
  await expect.poll(() => referralCookie(context)).toBe(code);
  await friend.goto(`${storefrontUrl}/join`);
  await friend.getByLabel("Your email").fill(email);
  await friend.getByRole("button", { name: "Create my account" }).click();
  await expect(friend).toHaveURL(`${storefrontUrl}/?tally=open`);
  // Signed in: claimed, and the cookie dropped once the server has answered.
  await expect.poll(() => referralCookie(context)).toBeUndefined();
  return friend;
}

test("a referral link shared from one browser credits both on the friend's first order in another", async ({ browser, request }, testInfo) => {
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  const errors: string[] = [];
  shopper.on("pageerror", (error) => errors.push(error.message));
  await shopper.goto(`${storefrontUrl}/`);
  await inWidget(shopper, ".launcher").click();
  const field = inWidget(shopper, ".referral-link");
  await expect(field).toHaveValue(new RegExp(`^${storefrontUrl}/\\?ref=[2-9A-HJKMNP-Z]{8}$`));
  const link = await field.inputValue();
  await expect(inWidget(shopper, ".referral-lead")).toHaveText("When a friend places a first order, you earn 500 points and your friend 250 points");

  // Share links open the networks' own pages with the link; nothing third-party runs here.
  const message = encodeURIComponent(`Join me and earn rewards: ${link}`);
  const share = (name: string) => inWidget(shopper, ".share-link").filter({ hasText: name });
  await expect(share("WhatsApp")).toHaveAttribute("href", `https://wa.me/?text=${message}`);
  await expect(share("X")).toHaveAttribute("href", `https://x.com/intent/post?text=${message}`);
  await expect(share("Facebook")).toHaveAttribute("href", `https://www.facebook.com/sharer/sharer.php?u=${encodeURIComponent(link)}`);
  await expect(share("Email")).toHaveAttribute("href", /^mailto:\?subject=Demo%20Store&body=Join%20me/);
  await shopperContext.grantPermissions(["clipboard-read", "clipboard-write"], { origin: storefrontUrl });
  await inWidget(shopper, ".referral").getByRole("button", { name: "Copy" }).click();
  await expect(inWidget(shopper, ".referral").getByRole("button", { name: "Copied" })).toBeVisible();
  expect(await shopper.evaluate(() => navigator.clipboard.readText())).toBe(link);
  await shopper.screenshot({ path: testInfo.outputPath("referral-link.png") });
  const before = await available(request, "demo-shopper");

  const friendContext = await browser.newContext();
  const friend = await friendJoins(friendContext, link, `friend-${Date.now()}@example.com`);
  await friend.getByRole("button", { name: /Buy a mug/ }).click();
  await expect(friend).toHaveURL(`${storefrontUrl}/?tally=open`);
  // The friend: the signup, the friend's award and the order's points.
  await expect(inWidget(friend, ".balance-points")).toHaveText((100 + 250 + 24).toLocaleString("en"));

  await expect.poll(() => available(request, "demo-shopper")).toBe(before + 500);
  await shopper.reload();
  await inWidget(shopper, ".launcher").click();
  await expect(inWidget(shopper, ".balance-points")).toHaveText((before + 500).toLocaleString("en"));
  expect(errors).toEqual([]);
  await friendContext.close();
  await shopperContext.close();
});

test("a claim from the referrer's own mailbox waits in the console until the owner approves it", async ({ browser, page, request }, testInfo) => {
  const shopperContext = await browser.newContext();
  const shopper = await shopperContext.newPage();
  await shopper.goto(`${storefrontUrl}/`);
  await inWidget(shopper, ".launcher").click();
  const link = await inWidget(shopper, ".referral-link").inputValue();
  await shopperContext.close();

  // The demo shopper is shopper@demo.test: a +tag reads the same mailbox.
  const friendContext = await browser.newContext();
  const friend = await friendJoins(friendContext, link, `shopper+deals${Date.now()}@demo.test`);

  await page.goto("/admin");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
  await page.goto("/admin/programs/prg_demo/referrals");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const held = page.locator("[data-held] tbody tr").filter({ hasText: "the same mailbox as the referrer's" });
  await expect(held).toHaveCount(1);
  const friendId = await held.getAttribute("data-referred");
  expect(friendId).toMatch(/^friend-/);
  await page.screenshot({ path: testInfo.outputPath("referrals-held.png"), fullPage: true });

  // Held: the friend's first order pays nobody...
  const before = await available(request, "demo-shopper");
  await friend.getByRole("button", { name: /Buy a mug/ }).click();
  await expect(inWidget(friend, ".balance-points")).toHaveText((100 + 24).toLocaleString("en"));
  expect(await available(request, "demo-shopper")).toBe(before);
  // ...until the owner approves: the friend has ordered, so both are paid at once.
  await held.getByRole("button", { name: "Approve" }).click();
  await expect(page.locator(`[data-held] tr[data-referred="${friendId}"]`)).toHaveCount(0);
  await expect(page.locator(`[data-recent] tr[data-referred="${friendId}"]`)).toContainText("approved (owner@demo.test)");
  await expect.poll(() => available(request, "demo-shopper")).toBe(before + 500);
  expect(await available(request, friendId!)).toBe(100 + 24 + 250);
  await friendContext.close();
});
