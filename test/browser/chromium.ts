// Real-browser tests: playwright-core driving Debian's Chromium (package `chromium`), never
// a downloaded browser, against the compiled server started on a free port with its own
// sessions folder and database.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { tempDir, TEST_SECRET } from "../helpers";
import { ROOT, startBuiltServer, stop, type Started } from "../processes";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: install Debian's package (apt-get install chromium); the browser tests never download a browser`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

export interface Site {
  url: string;
  dir: string;
  server: Started;
}

export async function startSite(env: Record<string, string> = {}): Promise<Site> {
  const dir = tempDir("handstamp-browser-");
  const server = startBuiltServer(
    {
      SESSION_SECRET: TEST_SECRET,
      SESSION_DIR: path.join(dir, "sessions"),
      DATABASE_PATH: path.join(dir, "data", "handstamp.db"),
      ...env,
    },
    dir,
  );
  return { url: await server.listening, dir, server };
}

export const stopSite = (site: Site | undefined) => (site ? stop(site.server) : undefined);

/** Browser tests read pages the way a person does: by label, role and visible text. */
export async function signUpIn(
  page: Page,
  url: string,
  name: string,
  password = "correct horse battery staple",
) {
  await page.goto(`${url}/signup`);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create my account" }).click();
  await page.waitForURL(`${url}/`);
}

export async function logInThrough(
  page: Page,
  name: string,
  password = "correct horse battery staple",
  remember = false,
) {
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(password);
  if (remember) await page.getByLabel("Remember me").check();
  await page.getByRole("button", { name: "Log in" }).click();
}

export async function visitsOn(page: Page): Promise<number> {
  return Number(await page.getByTestId("visits").textContent());
}

/** What a browser keeps across a restart: only cookies with an expiry. */
export async function persistentCookies(context: BrowserContext) {
  return (await context.cookies()).filter((c) => c.expires > 0);
}

const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's violations of WCAG 2.x levels A and AA on the current page. */
export async function accessibilityViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the site's CSP (rightly) refuses inline scripts.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
            opts: object,
          ) => Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
    });
    return result.violations.map(
      (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
    );
  });
  return violations;
}

/** Narrower than this many characters of its own font, a text box is a column nobody can read. */
export const MIN_CHARS = 10;

/**
 * What a reader of the current page at the current viewport would notice is broken: the
 * page or a part of it (a table) scrolls sideways, or a text box (an element holding text of its own) is narrower
 * than MIN_CHARS characters of its font (unless its own text is shorter) or taller than
 * the viewport. An inline element's text runs in the lines of the box around it, so that
 * box's width is the one measured. axe sees none of this: a column one letter wide is
 * still read out whole by a screen reader.
 */
export async function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate((minChars) => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
      problems.push(`scrolls sideways: ${root.scrollWidth} px wide in a ${root.clientWidth} px window`);
    }
    const pen = document.createElement("canvas").getContext("2d")!;
    const squeeze = (text: string) => text.replace(/\s+/g, " ").trim();
    const flowsInParent = (e: Element) => ["inline", "contents"].includes(getComputedStyle(e).display);
    const contentWidth = (e: Element) => {
      const style = getComputedStyle(e);
      const sides = ["paddingLeft", "paddingRight", "borderLeftWidth", "borderRightWidth"] as const;
      return e.getBoundingClientRect().width - sides.reduce((sum, side) => sum + parseFloat(style[side]), 0);
    };
    for (const element of Array.from(document.body.querySelectorAll("*"))) {
      // A table wider than its frame is a page scrolling sideways too, only smaller; a
      // <pre> keeps its lines whole on purpose.
      const overflow = getComputedStyle(element).overflowX;
      const scrolls = ["auto", "scroll"].includes(overflow) && element.tagName !== "PRE";
      if (scrolls && element.scrollWidth > element.clientWidth + 1) {
        const what = `<${element.tagName.toLowerCase()} class="${element.className}">`;
        problems.push(
          `${what} scrolls sideways: ${element.scrollWidth} px wide in ${element.clientWidth} px`,
        );
      }
      const own = Array.from(element.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE);
      // Its own text only: a child's is measured in the child, and a visually hidden one
      // (" Classic hand stamp" after a Remove button's "Remove") is not seen at all.
      const text = squeeze(own.map((n) => n.textContent).join(" "));
      if (!text) continue;
      const box = element.getBoundingClientRect();
      // Not shown, or hidden on purpose for screen readers only (.visually-hidden).
      if (box.width <= 1 || box.height <= 1) continue;
      let lines: Element = element;
      while (flowsInParent(lines) && lines.parentElement) lines = lines.parentElement;
      const style = getComputedStyle(element);
      pen.font = style.font || `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const char = pen.measureText("0").width;
      const needed = Math.min(minChars * char, pen.measureText(text).width);
      const width = contentWidth(lines);
      const name = `<${element.tagName.toLowerCase()}> "${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
      if (width + 1 < needed) {
        const where = lines === element ? "is" : `runs in lines of its <${lines.tagName.toLowerCase()}>`;
        problems.push(
          `${name} ${where} ${(width / char).toFixed(1)} characters wide (fewer than ${minChars})`,
        );
      }
      if (box.height > window.innerHeight) {
        problems.push(
          `${name} is ${Math.round(box.height)} px tall, taller than the ${window.innerHeight} px window`,
        );
      }
    }
    return problems;
  }, MIN_CHARS);
}

/**
 * Screenshots of the main pages. `npm run screenshots` writes them to docs/screenshots for
 * the README; an ordinary test run writes them to a temporary folder.
 */
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? path.join(ROOT, "docs", "screenshots")
  : tempDir("handstamp-shots-");

export const WIDTHS = { phone: { width: 390, height: 844 }, laptop: { width: 1280, height: 800 } } as const;

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  for (const [label, size] of Object.entries(WIDTHS)) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDTHS.laptop);
}
