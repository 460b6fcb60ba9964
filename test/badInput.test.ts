// Bad input loses nothing (property-based, with fast-check): random and hostile values in
// every form and in the session cookie never give a 5xx, never crash, and a rejected
// request changes no user and no session. Runs on every store (jest.config.js).
import fc from "fast-check";
import request from "supertest";
import {
  sessionIdFrom,
  csrfOf,
  logIn,
  PASSWORD,
  sessionIdOf,
  signUp,
  textOf,
  useTestApp,
  type Agent,
  type TestApp,
} from "./helpers";

const RUNS = 60;

/** Strings that have broken web apps before, and random ones (any Unicode, NUL included). */
const hostile = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "__proto__",
    "constructor",
    "prototype",
    "toString",
    "\u0000",
    "a\u0000b",
    "../../etc/passwd",
    "%00",
    "\r\nSet-Cookie: x=1",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "😀".repeat(300),
    "x".repeat(5_000),
    "9".repeat(400),
    "-1",
    "1e309",
    "NaN",
    "0x10",
  ),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: "binary", maxLength: 300 }),
);

/** A form field as a browser or an attacker may send it: one value, repeated, bracketed, or absent. */
const fieldValue = fc.oneof(
  hostile.map((v) => [v]),
  fc.array(hostile, { minLength: 2, maxLength: 3 }),
  fc.constant([] as string[]),
);

function encode(fields: Record<string, string[]>, extra: [string, string][]): string {
  const pairs: [string, string][] = Object.entries(fields).flatMap(([name, values]) =>
    values.map((v) => [name, v] as [string, string]),
  );
  return new URLSearchParams([...pairs, ...extra]).toString();
}

interface FormRoute {
  action: (segment: string) => string;
  page: string;
  fields: string[];
  loggedIn: boolean;
}

const ROUTES: FormRoute[] = [
  { action: () => "/signup", page: "/signup", fields: ["username", "password"], loggedIn: false },
  {
    action: () => "/login",
    page: "/login",
    fields: ["username", "password", "next", "remember"],
    loggedIn: false,
  },
  { action: () => "/logout", page: "/logout", fields: [], loggedIn: true },
  { action: () => "/cart/items", page: "/cart", fields: ["product", "quantity"], loggedIn: false },
  {
    action: (s) => `/cart/items/${encodeURIComponent(s)}`,
    page: "/cart",
    fields: ["quantity"],
    loggedIn: false,
  },
  { action: () => "/account/password", page: "/account", fields: ["current", "password"], loggedIn: true },
  { action: () => "/account/sessions/others", page: "/account/sessions", fields: [], loggedIn: true },
  {
    action: (s) => `/account/sessions/${encodeURIComponent(s)}/revoke`,
    page: "/account/sessions",
    fields: [],
    loggedIn: true,
  },
];

/** What must not change when a request is refused: the parts of a session a visitor cares about. */
async function sessionState(t: TestApp, agent: Agent) {
  const id = await sessionIdOf(t, agent);
  const stored = (await t.storage.store.list()).find((s) => s.id === id);
  const { visits, cart, user, login } = stored?.data ?? {};
  return JSON.stringify({ id, visits, cart, user, login });
}

describe("random and hostile form input", () => {
  const t = useTestApp({ AUTH_RATE_LIMIT: "off" });
  let victim: Agent;
  let victimPage: string;

  beforeAll(async () => {
    victim = t.agent();
    await signUp(victim, "victim");
    const _csrf = await csrfOf(victim, "/cart");
    await victim.post("/cart/items").type("form").send({ product: "cookie-jar", quantity: "3", _csrf });
    victimPage = (await victim.get("/cart")).text;
    await signUp(t.agent(), "attacker");
  });

  /** The victim, elsewhere, must see exactly what it saw before. */
  async function expectVictimUntouched() {
    const page = (await victim.get("/cart")).text;
    expect(textOf(page, "nav-user")).toBe("victim");
    expect(textOf(page, "cart-count")).toBe(textOf(victimPage, "cart-count"));
  }

  test.each(ROUTES.map((r) => [r.action("{x}"), r] as const))(
    "%s: no 5xx, and a refused request changes nothing",
    async (_name, route) => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            fields: fc.record(Object.fromEntries(route.fields.map((f) => [f, fieldValue]))),
            extra: fc.array(fc.tuple(hostile, hostile), { maxLength: 3 }),
            segment: hostile,
            token: fc.constantFrom("valid", "missing", "wrong", "twice"),
          }),
          async ({ fields, extra, segment, token }) => {
            const agent = t.agent();
            if (route.loggedIn) await logIn(agent, "attacker");
            const page = await agent.get(route.page);
            const csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1] ?? "";
            const tokens: [string, string][] =
              token === "valid"
                ? [["_csrf", csrf]]
                : token === "wrong"
                  ? [["_csrf", "x".repeat(64)]]
                  : token === "twice"
                    ? [
                        ["_csrf", csrf],
                        ["_csrf", csrf],
                      ]
                    : [];
            const users = await t.users.count();
            const before = await sessionState(t, agent);
            const res = await agent
              .post(route.action(segment))
              .type("form")
              .send(encode(fields as Record<string, string[]>, [...extra, ...tokens]));
            expect(res.status).toBeLessThan(500);
            expect(res.text).not.toMatch(/at .+\.(ts|js):\d+/); // never a stack trace
            if (res.status >= 400) {
              expect(await t.users.count()).toBe(users);
              expect(await sessionState(t, agent)).toBe(before);
            }
          },
        ),
        { numRuns: RUNS },
      );
      await expectVictimUntouched();
    },
  );
});

describe("random and hostile cookies", () => {
  const t = useTestApp();
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 400,
  });
  const cookieHeader = fc.oneof(
    printable,
    printable.map((v) => `sid=${v}`),
    fc.tuple(printable, printable).map(([id, mac]) => `sid=s:${id}.${mac}`),
    fc.tuple(printable, printable).map(([a, b]) => `sid=${a}; sid=${b}`),
    fc.constantFrom(
      "sid=",
      "sid=s:",
      "sid=s%3A",
      "__proto__=1; sid=s:__proto__.x",
      `sid=s:${"A".repeat(43)}.${"B".repeat(43)}`,
      `sid=${"x".repeat(8_000)}`,
    ),
  );

  test("never a 5xx, never adopted: a fresh id when something is stored, none otherwise", async () => {
    await fc.assert(
      fc.asyncProperty(
        cookieHeader,
        fc.constantFrom("/", "/cart", "/session", "/secret", "/login"),
        async (cookie, path) => {
          const before = new Set(await t.storedIds());
          const res = await request(t.app).get(path).set("Cookie", cookie);
          expect(res.status).toBeLessThan(500);
          const created = (await t.storedIds()).filter((id) => !before.has(id));
          const id = sessionIdFrom(res);
          if (id !== undefined) {
            expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
            expect(cookie).not.toContain(id);
            expect(created).toEqual([id]);
          } else {
            expect(created).toEqual([]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("oversized requests", () => {
  const t = useTestApp();
  const routes = [
    "/signup",
    "/login",
    "/logout",
    "/cart/items",
    "/cart/items/cookie-jar",
    "/account/password",
    "/account/sessions/others",
    "/account/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke",
  ];

  test.each(routes)("a body over 16 kB to %s gets a readable 413", async (route) => {
    const res = await request(t.app)
      .post(route)
      .type("form")
      .send(`username=${"a".repeat(17 * 1024)}`);
    expect(res.status).toBe(413);
    expect(res.text).toContain("What you sent is too large.");
  });

  test("too many fields get a 413 too", async () => {
    const fields = Array.from({ length: 200 }, (_, i) => `f${i}=1`).join("&");
    expect((await request(t.app).post("/login").type("form").send(fields)).status).toBe(413);
  });

  test("headers over Node's limit get a 431 and the server keeps serving", async () => {
    const res = await request(t.app)
      .get("/")
      .set("Cookie", `sid=${"x".repeat(20_000)}`);
    expect(res.status).toBe(431);
    expect((await request(t.app).get("/healthz")).status).toBe(200);
  });

  test("the victim of all this is still logged in", async () => {
    const agent = t.agent();
    await signUp(agent, "survivor");
    expect((await logIn(t.agent(), "survivor", PASSWORD)).status).toBe(303);
    expect((await agent.get("/secret")).status).toBe(200);
  });
});
