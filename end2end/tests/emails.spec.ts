import { expect, Page, test } from "@playwright/test";
import { inboxUrl, storefrontUrl } from "../playwright.config";

/** The demo's owner (demo data only). */
const OWNER = { email: "owner@demo.test", password: "demo-password" };

async function signIn(page: Page) {
  await page.goto("/admin/login");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Email").fill(OWNER.email);
  await page.getByLabel("Password").fill(OWNER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/admin$/);
}

type Mail = { id: string; subject: string; to: { address: string }[] };

/** The messages maildev caught (its REST API), newest last. */
async function inbox(page: Page): Promise<Mail[]> {
  const answer = await page.request.get(`${inboxUrl}/email`);
  expect(answer.ok()).toBe(true);
  return answer.json();
}

/** Waits until a message to `to` whose subject matches arrives (not one of `earlier`); returns it. */
async function arrival(page: Page, to: string, subject: RegExp, earlier: string[] = []): Promise<Mail> {
  let found: Mail | undefined;
  await expect
    .poll(async () => {
      found = (await inbox(page)).find((mail) =>
        !earlier.includes(mail.id) && mail.to.some((r) => r.address === to) && subject.test(mail.subject));
      return found !== undefined;
    }, { timeout: 15_000 })
    .toBe(true);
  return found!;
}

test("a shopper buys on the demo storefront and the points email arrives, in the program's colours, with the widget link", async ({ page }, testInfo) => {
  await page.goto(`${storefrontUrl}/`);
  const earlier = (await inbox(page)).map((mail) => mail.id);
  await page.getByRole("button", { name: /Buy a mug/ }).click();
  // Back on the shop with `?tally=open`: the widget opens by itself.
  await expect(page).toHaveURL(/\?tally=open$/);
  await expect(page.locator("#tally-widget .panel")).toBeVisible();

  // 24 points, or more at the shopper's tier multiplier.
  const mail = await arrival(page, "shopper@demo.test", /^You earned \d+ points$/, earlier);
  const html = await (await page.request.get(`${inboxUrl}/email/${mail.id}/html`)).text();
  await page.setContent(html);
  await expect(page.getByText("Hi Demo Shopper,")).toBeVisible();
  await expect(page.getByRole("link", { name: "See my rewards" })).toHaveAttribute("href", `${storefrontUrl}/?tally=open`);
  const unsubscribe = page.getByRole("link", { name: "Unsubscribe" });
  await expect(unsubscribe).toHaveAttribute("href", /\/email\/unsubscribe\?t=/);
  await page.screenshot({ path: testInfo.outputPath("points-earned-en.png"), fullPage: true });
  const headers = await (await page.request.get(`${inboxUrl}/email/${mail.id}`)).json();
  expect(headers.headers["list-unsubscribe-post"]).toBe("List-Unsubscribe=One-Click");
});

test("the emails page previews every message in every language (screenshots kept), saves a text, and sends a test", async ({ page }, testInfo) => {
  await signIn(page);
  await page.goto("/admin/programs/prg_demo/emails");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator('[data-mail="configured"]')).toBeVisible();
  const form = page.getByRole("form", { name: "Email settings" });
  const preview = form.locator("[data-preview-subject]");
  const kinds = ["welcome", "points_earned", "reward_unlocked", "points_expiring", "last_chance", "tier_up", "tier_at_risk", "birthday"];
  const languages = ["en", "ko", "ja", "zh-CN", "id"];
  for (const kind of kinds) {
    await form.locator('select[name="edit_kind"]').selectOption(kind);
    let english = "";
    for (const language of languages) {
      await form.locator('select[name="edit_language"]').selectOption(language);
      const subject = await form.locator('input[name="subject"]').inputValue();
      await expect(preview).toHaveAttribute("data-preview-of", `${kind}-${language}`);
      await expect(preview).not.toHaveAttribute("data-preview-subject", /\{\{/);
      const shown = await preview.getAttribute("data-preview-subject");
      if (language === "en") {
        english = shown!;
      } else {
        // A message left in English would be an untranslated text.
        expect(shown, `${kind} in ${language}`).not.toBe(english);
      }
      expect(subject.length).toBeGreaterThan(0);
      const frame = form.locator("iframe.email-preview");
      await expect(frame).toBeVisible();
      await frame.screenshot({ path: testInfo.outputPath(`email-${kind}-${language}.png`) });
    }
  }

  // A bad sender is named on its field; a custom subject shows in the preview and is kept.
  const sender = form.getByLabel("From address (no email is sent without one)");
  const original = await sender.inputValue();
  await sender.fill("not an address");
  await form.getByRole("button", { name: "Save emails" }).click();
  await expect(sender).toHaveAttribute("aria-invalid", "true");
  await sender.fill(original);
  await form.locator('select[name="edit_kind"]').selectOption("points_earned");
  await form.locator('select[name="edit_language"]').selectOption("en");
  await form.locator('input[name="subject"]').fill("+{{ points }} {{ points_name }} for you");
  await expect(preview).toHaveAttribute("data-preview-subject", "+100 points for you");
  await form.locator('textarea[name="body"]').fill("<b>Thanks</b> {{ customer_name }}!");
  await expect(form.locator("iframe.email-preview")).toHaveAttribute("srcdoc", /&lt;b&gt;Thanks&lt;(\/|&#x2f;)b&gt; Ana!/);
  await form.getByRole("button", { name: "Save emails" }).click();
  await expect(form.locator(".notice-inline[role=status]")).toHaveText("Saved.");
  await page.reload();
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator('input[name="subject"]')).toHaveValue("+{{ points }} {{ points_name }} for you");

  await page.getByRole("button", { name: "Send me a test" }).click();
  await expect(page.locator("[data-test-note]")).toHaveText("A test message went to owner@demo.test.");
  await arrival(page, "owner@demo.test", /^\[Test\] \+100 points for you$/);

  // Back to Tally's words for the other tests: the default text again.
  await page.locator('input[name="subject"]').fill("You earned {{ points }} {{ points_name }}");
  await page.locator('textarea[name="body"]').fill(
    "{{ greeting }}\n\nYou earned {{ points }} {{ points_name }} at {{ program_name }}. Your balance is now {{ balance }} {{ points_name }}.",
  );
  await page.getByRole("button", { name: "Save emails" }).click();
  await expect(page.locator(".notice-inline[role=status]")).toHaveText("Saved.");
  // The log lists what was sent.
  await expect(page.locator("[data-email-log] tr[data-status]").first()).toBeVisible();
});
