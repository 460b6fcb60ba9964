// Flash messages: shown once, and only the last few kept, so redirects that are never
// followed (a script posting one form over and over) cannot grow the session.
import { csrfOf, flashesOf, useTestApp } from "./helpers";

describe("flash messages", () => {
  const t = useTestApp();

  test("after 30 cart changes whose redirects were not followed, the page shows the last 10", async () => {
    const shopper = t.agent();
    const _csrf = await csrfOf(shopper, "/cart");
    await shopper.post("/cart/items").type("form").send({ product: "cookie-jar", quantity: "1", _csrf });
    const token = await csrfOf(shopper, "/cart"); // the cart's session exists now
    for (let quantity = 1; quantity <= 30; quantity++) {
      const res = await shopper
        .post("/cart/items/cookie-jar")
        .type("form")
        .send({ quantity: String(quantity), _csrf: token });
      expect(res.status).toBe(303);
    }
    const shown = flashesOf((await shopper.get("/cart")).text);
    expect(shown.map((m) => m.text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `Cookie jar: quantity set to ${21 + i}.`),
    );
    expect(flashesOf((await shopper.get("/cart")).text)).toEqual([]); // shown once
  });
});
