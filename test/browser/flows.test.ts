// What a person does in Chromium, and what the browser holds afterwards.
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  accessibilityViolations,
  launchChromium,
  layoutProblems,
  logInThrough,
  persistentCookies,
  screenshot,
  signUpIn,
  startSite,
  stopSite,
  visitsOn,
  WIDTHS,
  type Site,
} from "./chromium";

jest.setTimeout(60_000);

let browser: Browser;
let site: Site;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  site = await startSite();
  context = await browser.newContext();
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
  await stopSite(site);
});

const flashes = (p: Page) => p.getByTestId("flash").allTextContents();

test("sign up, count visits in two tabs, log out and see the message once", async () => {
  await page.goto(`${site.url}/`);
  await screenshot(page, "home-logged-out");
  await signUpIn(page, site.url, "ada");
  expect(await page.getByText("You are logged in as ada").count()).toBe(1);
  expect(await page.getByTestId("user").textContent()).toBe("ada");
  expect(await flashes(page)).toEqual(["Welcome, ada"]);

  const first = await visitsOn(page);
  for (let i = 1; i <= 3; i++) {
    await page.reload();
    expect(await visitsOn(page)).toBe(first + i);
  }
  await screenshot(page, "home-logged-in");

  const secondTab = await context.newPage();
  await secondTab.goto(`${site.url}/`);
  expect(await secondTab.getByTestId("user").textContent()).toBe("ada");
  expect(await visitsOn(secondTab)).toBe(first + 4);

  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${site.url}/`);
  expect(await page.getByText("You are not logged in").count()).toBe(1);
  expect(await flashes(page)).toEqual(["You have been logged out."]);
  await page.reload();
  expect(await flashes(page)).toEqual([]);
  expect((await context.cookies()).filter((c) => c.name === "sid")).toHaveLength(1); // a new, anonymous session
});

test("the secret page sends a visitor to log in, then back", async () => {
  await signUpIn(page, site.url, "grace");
  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${site.url}/`);

  await page.goto(`${site.url}/secret`);
  await page.waitForURL(`${site.url}/login?next=%2Fsecret`);
  expect(await flashes(page)).toEqual(["Please log in to see this page."]);
  await logInThrough(page, "grace", "a wrong password");
  expect(await page.getByTestId("form-error").textContent()).toContain("Invalid username or password.");
  await screenshot(page, "login-error");
  await logInThrough(page, "grace");
  await page.waitForURL(`${site.url}/secret`);
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("The secret page");
  await screenshot(page, "secret");
});

/** What the user sees after closing the browser and opening it again: only persistent cookies remain. */
async function afterRestart(url: string) {
  const restarted = await browser.newContext();
  await restarted.addCookies(await persistentCookies(context));
  const again = await restarted.newPage();
  await again.goto(url);
  const loggedOut = (await again.getByText("You are not logged in").count()) === 1;
  await restarted.close();
  return loggedOut ? "logged out" : "logged in";
}

test("after the browser is closed, a normal log-in is gone, a remembered one stays", async () => {
  await signUpIn(page, site.url, "linus");
  expect((await persistentCookies(context)).map((c) => c.name)).not.toContain("sid");
  expect(await afterRestart(`${site.url}/`)).toBe("logged out");

  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(`${site.url}/`);
  await page.goto(`${site.url}/login`);
  await logInThrough(page, "linus", undefined, true);
  await page.waitForURL(`${site.url}/`);
  const sid = (await persistentCookies(context)).find((c) => c.name === "sid")!;
  expect(sid.expires * 1000 - Date.now()).toBeGreaterThan(29 * 86_400_000); // about 30 days
  expect(await afterRestart(`${site.url}/`)).toBe("logged in");
});

test("the session inspector shows this browser's own session", async () => {
  await signUpIn(page, site.url, "curious");
  await page.getByRole("link", { name: "Your session" }).click();
  await page.waitForURL(`${site.url}/session`);
  const sid = (await context.cookies()).find((c) => c.name === "sid")!;
  expect(await page.getByTestId("cookie-id").textContent()).toBe(
    `${decodeURIComponent(sid.value).slice(2, 10)}…`,
  );
  expect(await page.getByTestId("store-kind").textContent()).toBe("file");
  expect(JSON.parse((await page.getByTestId("session-data").textContent())!)).toMatchObject({
    user: { name: "curious" },
  });
  await screenshot(page, "inspector");
});

test("two browsers never see each other's session", async () => {
  await signUpIn(page, site.url, "margaret");
  await page.reload();
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto(`${site.url}/`);
  expect(await otherPage.getByText("You are not logged in").count()).toBe(1);
  expect(await visitsOn(otherPage)).toBe(1);
  expect(await visitsOn(page)).toBeGreaterThan(1);
  const sid = async (c: BrowserContext) => (await c.cookies()).find((k) => k.name === "sid")?.value;
  expect(await sid(other)).not.toBe(await sid(context));
  await other.close();
});

test("the session cookie is HttpOnly: page scripts cannot read it", async () => {
  await page.goto(`${site.url}/`);
  const cookie = (await context.cookies()).find((c) => c.name === "sid")!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
  expect(await page.evaluate(() => document.cookie)).not.toContain("sid=");
});

test("a form whose token was invalidated by a log-in in another tab shows the 403 page", async () => {
  await signUpIn(page, site.url, "barbara");
  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await page.goto(`${site.url}/signup`);
  const other = await context.newPage();
  await other.goto(`${site.url}/login`);
  await logInThrough(other, "barbara");
  await other.waitForURL(`${site.url}/`);

  await page.getByLabel("Username").fill("eve-late");
  await page.getByLabel("Password").fill("long enough password");
  await page.getByRole("button", { name: "Create my account" }).click();
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("This form has expired");
  await page.getByRole("link", { name: "Back to the home page" }).click();
  expect(await page.getByTestId("user").textContent()).toBe("barbara");
});

test("keyboard only: log in with Tab and Enter, with visible focus and labelled fields", async () => {
  await signUpIn(page, site.url, "keys");
  await page.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await page.goto(`${site.url}/login`);
  for (const input of await page.locator("input:not([type=hidden])").all()) {
    const id = await input.getAttribute("id");
    expect(await page.locator(`label[for="${id}"]`).count()).toBe(1);
  }
  // The username field has focus on arrival; type, Tab to the password, Enter to send.
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("username");
  await page.keyboard.type("keys");
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("password");
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
  expect(outline).not.toBe("none");
  await page.keyboard.type("correct horse battery staple");
  await page.keyboard.press("Enter");
  await page.waitForURL(`${site.url}/`);
  expect(await page.getByTestId("user").textContent()).toBe("keys");
});

test("the cart: add, change, see the count in the header", async () => {
  await page.goto(`${site.url}/cart`);
  await page.getByLabel("Quantity").first().fill("2");
  await page.getByRole("button", { name: "Add Classic hand stamp to cart" }).click();
  await page.waitForURL(`${site.url}/cart`);
  await page.getByRole("button", { name: "Add Cookie jar to cart" }).click();
  expect(await page.getByTestId("cart-count").textContent()).toBe("3");
  expect(await page.getByTestId("cart-total").textContent()).toBe("€21.00");
  await screenshot(page, "cart");
  await page.getByLabel("Quantity of Cookie jar").fill("0");
  await page
    .getByRole("row", { name: /Cookie jar/ })
    .getByRole("button", { name: "Update" })
    .click();
  expect(await page.getByTestId("cart-count").textContent()).toBe("2");
});

test("axe finds no WCAG A or AA violation on any page", async () => {
  const pages = ["/", "/login", "/signup", "/logout", "/cart", "/session", "/nowhere"];
  const found: string[] = [];
  const check = async (path: string) => {
    await page.goto(`${site.url}${path}`);
    found.push(...(await accessibilityViolations(page)).map((v) => `${path}: ${v}`));
  };
  for (const path of pages) await check(path);
  await signUpIn(page, site.url, "axe");
  for (const path of ["/", "/secret", "/cart", "/logout", "/session", "/account", "/account/sessions"])
    await check(path);
  await page.goto(`${site.url}/login`);
  await logInThrough(page, "axe", "wrong password here");
  found.push(...(await accessibilityViolations(page)).map((v) => `login error: ${v}`));
  expect(found).toEqual([]);
});

test("the accessibility check itself catches a problem (an input with no label)", async () => {
  await page.goto(`${site.url}/login`);
  await page.evaluate(() => document.querySelector("form")!.append(document.createElement("input")));
  expect((await accessibilityViolations(page)).join("\n")).toMatch(/^label: /m);
});

/** The layout problems of the page now shown, at a phone's width and at a laptop's. */
async function layoutAtEveryWidth(where: string): Promise<string[]> {
  const found: string[] = [];
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    found.push(...(await layoutProblems(page)).map((problem) => `${where} on a ${label}: ${problem}`));
  }
  return found;
}

/** The "form expired" page: a cart form sent with a token that is not the session's. */
async function sendAStaleForm() {
  await page.goto(`${site.url}/cart`);
  await page.evaluate(() => {
    document
      .querySelectorAll<HTMLInputElement>('input[name="_csrf"]')
      .forEach((field) => (field.value = "stale"));
  });
  await page.getByRole("button", { name: "Add Cookie jar to cart" }).click();
  expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("This form has expired");
}

const EVERY_PAGE = ["/", "/login", "/signup", "/logout", "/secret", "/cart", "/session", "/account"];

/** Every page, the 404 and the "form expired" page: their layout problems at both widths. */
async function layoutOfEveryPage(): Promise<string[]> {
  const found: string[] = [];
  for (const path of [...EVERY_PAGE, "/account/sessions", "/nowhere"]) {
    await page.goto(`${site.url}${path}`);
    found.push(...(await layoutAtEveryWidth(path)));
  }
  await sendAStaleForm();
  found.push(...(await layoutAtEveryWidth("the form-expired page")));
  return found;
}

// Two tests, not one: each site's server lives at most a minute (test/processes.ts).
test("logged out, on a phone and on a laptop, no page scrolls sideways or squeezes its text", async () => {
  expect(await layoutOfEveryPage()).toEqual([]);
});

test("logged in, on a phone and on a laptop, no page scrolls sideways or squeezes its text", async () => {
  await signUpIn(page, site.url, "a-rather-long-name.for_layout");
  const elsewhere = await browser.newContext();
  const other = await elsewhere.newPage();
  await other.goto(`${site.url}/login`);
  await logInThrough(other, "a-rather-long-name.for_layout");
  await other.waitForURL(`${site.url}/`);
  await elsewhere.close();
  await page.goto(`${site.url}/cart`);
  await page.getByRole("button", { name: "Add Classic hand stamp to cart" }).click();
  await page.waitForURL(`${site.url}/cart`);
  expect(await layoutOfEveryPage()).toEqual([]);
});

test("the layout check itself catches a squeezed column (the inspector's old grid)", async () => {
  await signUpIn(page, site.url, "squeezed");
  await page.goto(`${site.url}/session`);
  await page.evaluate(() => {
    document.querySelectorAll<HTMLElement>(".inspector dl").forEach((list) => {
      list.style.gridTemplateColumns = "minmax(8rem, max-content) 1fr";
    });
  });
  const found = (await layoutAtEveryWidth("/session")).join("\n");
  // The Cookie header's box (it starts with whichever cookie the browser lists first).
  expect(found).toMatch(
    /^\/session on a phone: <code> "[^"]*(csrf|device|sid)=[^"]*" .* [\d.]+ characters wide/m,
  );
  expect(found).toMatch(/^\/session on a phone: .* px tall, taller than the 844 px window$/m);
});
