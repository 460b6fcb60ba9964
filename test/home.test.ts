import request from "supertest";
import { flashesOf, logIn, sessionIdFrom, signUp, textOf, useTestApp, visits } from "./helpers";

describe.each(["file", "memory"])("the visit counter (%s sessions)", (store) => {
  const t = useTestApp({ SESSION_STORE: store });

  test("counts each visit of one browser, starting at 1", async () => {
    const browser = t.agent();
    expect(await visits(browser)).toBe(1);
    expect(await visits(browser)).toBe(2);
    expect(await visits(browser)).toBe(3);
  });

  test("two browsers never share a session", async () => {
    const alice = t.agent();
    const bob = t.agent();
    await visits(alice);
    await visits(alice);
    expect(await visits(bob)).toBe(1);
    expect(await visits(alice)).toBe(3);
  });

  test("a request without the cookie starts again at 1", async () => {
    await visits(t.agent());
    const res = await request(t.app).get("/");
    expect(textOf(res.text, "visits")).toBe("1");
  });

  test("a visitor who is not logged in is told so, with links to log in and sign up", async () => {
    const res = await t.agent().get("/");
    expect(res.text).toContain("You are not logged in");
    expect(res.text).toContain('href="/login"');
    expect(res.text).toContain('href="/signup"');
    expect(textOf(res.text, "user")).toBeUndefined();
  });

  test("a logged-in visitor sees their name and a Log out button", async () => {
    const browser = t.agent();
    await signUp(browser, "counter-user");
    const res = await browser.get("/");
    expect(res.text).toContain("You are logged in as");
    expect(textOf(res.text, "user")).toBe("counter-user");
    expect(res.text).toMatch(/<form method="post" action="\/logout">/);
  });
});

describe("the secret page", () => {
  const t = useTestApp();

  test("sends a visitor who is not logged in to the login page, with a flash", async () => {
    const browser = t.agent();
    const res = await browser.get("/secret");
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/login?next=%2Fsecret");
    const login = await browser.get(res.headers.location!);
    expect(flashesOf(login.text)).toEqual([{ category: "error", text: "Please log in to see this page." }]);
    expect(login.text).toContain('name="next" value="/secret"');
  });

  test("shows itself to a logged-in visitor", async () => {
    const browser = t.agent();
    await signUp(browser, "secret-keeper");
    const res = await browser.get("/secret");
    expect(res.status).toBe(200);
    expect(res.text).toContain("The secret page");
    expect(textOf(res.text, "user")).toBe("secret-keeper");
  });

  test("logging in from the redirect lands back on the secret page", async () => {
    await signUp(t.agent(), "returning");
    const browser = t.agent();
    await browser.get("/secret");
    const res = await logIn(browser, "returning", undefined, { next: "/secret" });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/secret");
    expect((await browser.get("/secret")).status).toBe(200);
  });
});

describe("pages around the site", () => {
  const t = useTestApp();

  test("an unknown address gets a 404 page", async () => {
    const res = await t.agent().get("/nowhere");
    expect(res.status).toBe(404);
    expect(res.text).toContain("Page not found");
  });

  test("/healthz answers ok when the store, its locks and the database answer, without a session", async () => {
    const res = await request(t.app).get("/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "ok",
      sessionStore: t.config.sessionStore,
      store: "ok",
      lock: "ok",
      database: "ok",
      databaseEngine: "sqlite",
    });
    expect(res.headers["set-cookie"]).toBeUndefined();
  });

  test("static files are served without any session work", async () => {
    const res = await request(t.app).get("/style.css");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/css/);
    expect(res.headers["set-cookie"]).toBeUndefined();
    expect(res.headers["vary"] ?? "").not.toMatch(/Cookie/);
    expect(res.headers["etag"]).toBeDefined(); // a browser may revalidate a file
  });

  test("pages that depend on the session are never cached and vary on Cookie", async () => {
    const res = await t.agent().get("/");
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.headers["vary"]).toMatch(/Cookie/);
    expect(res.headers["etag"]).toBeUndefined(); // never revalidated, so never hashed
    expect(res.headers["x-powered-by"]).toBeUndefined();
  });

  test("the Content-Security-Policy allows no inline script", async () => {
    const res = await t.agent().get("/");
    const csp = res.headers["content-security-policy"]!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
  });

  test("session ids are read from the cookie only, never from the URL", async () => {
    const id = sessionIdFrom(await t.agent().get("/"))!;
    const res = await request(t.app).get(`/?sid=${id}&connect.sid=${id}`);
    expect(textOf(res.text, "visits")).toBe("1");
  });
});
