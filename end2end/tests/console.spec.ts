import { expect, test } from "@playwright/test";

test("the console is server-rendered, then hydrated: the snippet toggle works", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));

  await page.goto("/admin");
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
