import { expect, test } from "@playwright/test";
import { consoleUrl, storefrontUrl } from "../playwright.config";

test("the storefront on another origin shows the widget inside its shadow root", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  const apiCalls: string[] = [];
  page.on("response", (response) => {
    if (response.url().includes("/widget/v1/")) apiCalls.push(`${response.status()} ${response.url()}`);
  });

  await page.goto(`${storefrontUrl}/`);
  expect(new URL(storefrontUrl).origin).not.toBe(new URL(consoleUrl).origin);

  // The text is rendered from the JSON the widget fetched across origins.
  const title = page.locator("#tally-widget .title");
  await expect(title).toHaveText("Demo Store Rewards");
  expect(apiCalls).toEqual([`200 ${consoleUrl}/widget/v1/programs/pk_demo`]);

  // It lives in the shadow root, not in the page's own DOM.
  const inShadow = await page.evaluate(() => {
    const host = document.getElementById("tally-widget");
    return {
      shadowText: host?.shadowRoot?.querySelector(".title")?.textContent ?? null,
      lightDomTitles: document.querySelectorAll(".title").length,
    };
  });
  expect(inShadow).toEqual({ shadowText: "Demo Store Rewards", lightDomTitles: 0 });
  expect(errors).toEqual([]);
});

test("styles are isolated both ways between the storefront and the widget", async ({ page }) => {
  await page.goto(`${storefrontUrl}/`);
  await expect(page.locator("#tally-widget .title")).toBeVisible();

  const styles = await page.evaluate(() => {
    // A storefront element using the widget's class names must not pick up the widget's CSS.
    const decoy = document.createElement("h2");
    decoy.className = "title";
    decoy.textContent = "decoy";
    document.body.appendChild(decoy);
    // A hostile storefront rule for the same class must not reach into the widget.
    const hostile = document.createElement("style");
    hostile.textContent = ".title { color: rgb(255, 0, 0) !important; font-size: 64px !important; }";
    document.head.appendChild(hostile);
    const widgetTitle = document.getElementById("tally-widget")!.shadowRoot!.querySelector(".title")!;
    return {
      decoyColor: getComputedStyle(decoy).color,
      widgetColor: getComputedStyle(widgetTitle).color,
      widgetFontSize: getComputedStyle(widgetTitle).fontSize,
      widgetFont: getComputedStyle(widgetTitle).fontFamily,
    };
  });
  expect(styles.decoyColor).toBe("rgb(255, 0, 0)");
  expect(styles.widgetColor).toBe("rgb(79, 70, 229)");
  expect(styles.widgetFontSize).toBe("18px");
  // The storefront's Georgia body font is not inherited into the widget.
  expect(styles.widgetFont).not.toContain("Georgia");
});
