// Every feature's router is mounted on its own path (app.ts): the addresses a visitor uses
// stay what they were, with or without a trailing slash, in any case, and a near miss is a 404.
import request from "supertest";
import { useTestApp } from "./helpers";

const t = useTestApp();

describe("the site's addresses, for a visitor who is not logged in", () => {
  test.each([
    ["/", 200],
    ["/nope", 404],
    ["/secret", 303],
    ["/cart", 200],
    ["/cart/", 200],
    ["/Cart", 200],
    ["/cartx", 404],
    ["/cart/nope", 404],
    ["/signup", 200],
    ["/login", 200],
    ["/login/", 200],
    ["/login/nope", 404],
    ["/logout", 200],
    ["/account", 303],
    ["/account/sessions", 303],
    ["/account/nope", 303], // the log-in guard covers the whole of /account, as before
    ["/session", 200],
    ["/session/nope", 404],
    ["/sessions", 404],
    ["/healthz", 200],
  ])("GET %s answers %d", async (path, status) => {
    const res = await request(t.app).get(path);
    expect(res.status).toBe(status);
    if (status === 303 && path.startsWith("/account")) {
      expect(res.headers.location).toBe(`/login?next=${encodeURIComponent(path)}`);
    }
  });

  test.each(["/cart/items", "/cart/items/cookie-jar", "/cart/clear", "/login", "/signup", "/logout"])(
    "POST %s without a form token is refused as an expired form, not a missing page",
    async (path) => {
      expect((await request(t.app).post(path).type("form").send("quantity=1")).status).toBe(403);
    },
  );
});
