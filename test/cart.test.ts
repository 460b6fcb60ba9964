import {
  csrfOf,
  flashesOf,
  formErrorsOf,
  logIn,
  logOut,
  signUp,
  textOf,
  useTestApp,
  type Agent,
} from "./helpers";

async function addToCart(agent: Agent, fields: Record<string, string>) {
  const _csrf = await csrfOf(agent, "/cart");
  return agent
    .post("/cart/items")
    .type("form")
    .send({ ...fields, _csrf });
}

async function setQuantity(agent: Agent, product: string, quantity: string) {
  const _csrf = await csrfOf(agent, "/cart");
  return agent.post(`/cart/items/${product}`).type("form").send({ quantity, _csrf });
}

/** product id → quantity, as the cart page shows it. */
async function cartOf(agent: Agent): Promise<Record<string, number>> {
  const html = (await agent.get("/cart")).text;
  const lines = html.matchAll(/data-product="([a-z-]+)"[\s\S]*?value="(\d+)" data-testid="line-quantity"/g);
  return Object.fromEntries([...lines].map((m) => [m[1]!, Number(m[2])]));
}

describe("the cart", () => {
  const t = useTestApp();

  test("is empty at first, and shows the catalogue", async () => {
    const res = await t.agent().get("/cart");
    expect(res.status).toBe(200);
    expect(textOf(res.text, "cart-empty")).toBe("Your cart is empty.");
    expect(res.text.match(/action="\/cart\/items" class="add-form"/g)).toHaveLength(6);
    expect(textOf(res.text, "cart-count")).toBe("0");
  });

  test("adds one by default, more on request, and totals the lines", async () => {
    const shopper = t.agent();
    const res = await addToCart(shopper, { product: "cookie-jar" });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe("/cart");
    await addToCart(shopper, { product: "cookie-jar", quantity: "2" });
    await addToCart(shopper, { product: "stamp-classic", quantity: "4" });
    const page = (await shopper.get("/cart")).text;
    expect(await cartOf(shopper)).toEqual({ "stamp-classic": 4, "cookie-jar": 3 });
    expect(page).toContain("€36.00"); // 3 × €12.00
    expect(textOf(page, "cart-total")).toBe("€54.00"); // + 4 × €4.50
    expect(textOf(page, "cart-count")).toBe("7");
  });

  test("each action redirects to the cart with a flash", async () => {
    const shopper = t.agent();
    await addToCart(shopper, { product: "padlock", quantity: "2" });
    expect(flashesOf((await shopper.get("/cart")).text)).toEqual([
      { category: "success", text: "Added 2 × Session padlock." },
    ]);
    await setQuantity(shopper, "padlock", "5");
    expect(flashesOf((await shopper.get("/cart")).text)).toEqual([
      { category: "success", text: "Session padlock: quantity set to 5." },
    ]);
  });

  test("changes a quantity, removes a line with 0, and empties the cart", async () => {
    const shopper = t.agent();
    await addToCart(shopper, { product: "hourglass" });
    await addToCart(shopper, { product: "shredder" });
    await setQuantity(shopper, "hourglass", "7");
    expect(await cartOf(shopper)).toEqual({ hourglass: 7, shredder: 1 });
    const removed = await setQuantity(shopper, "shredder", "0");
    expect(removed.status).toBe(303);
    expect(await cartOf(shopper)).toEqual({ hourglass: 7 });
    const _csrf = await csrfOf(shopper, "/cart");
    expect((await shopper.post("/cart/clear").type("form").send({ _csrf })).status).toBe(303);
    const page = (await shopper.get("/cart")).text;
    expect(textOf(page, "cart-empty")).toBe("Your cart is empty.");
    expect(flashesOf(page)).toEqual([{ category: "info", text: "Your cart is empty." }]);
  });

  test.each([
    ["an unknown product", { product: "unicorn" }, "That product is not in the catalogue."],
    ["a product named __proto__", { product: "__proto__" }, "That product is not in the catalogue."],
    ["no product", {}, "That product is not in the catalogue."],
    [
      "a negative quantity",
      { product: "padlock", quantity: "-1" },
      "Quantity: use a whole number from 0 to 99.",
    ],
    [
      "a quantity of 100",
      { product: "padlock", quantity: "100" },
      "Quantity: use a whole number from 0 to 99.",
    ],
    [
      "a fractional quantity",
      { product: "padlock", quantity: "1.5" },
      "Quantity: use a whole number from 0 to 99.",
    ],
    [
      "a quantity in words",
      { product: "padlock", quantity: "two" },
      "Quantity: use a whole number from 0 to 99.",
    ],
  ])("adding %s gets 400 with the cart page and a clear message", async (_case, fields, message) => {
    const shopper = t.agent();
    await addToCart(shopper, { product: "secret-key" });
    const res = await addToCart(shopper, fields);
    expect(res.status).toBe(400);
    expect(formErrorsOf(res.text)).toEqual([message]);
    expect(await cartOf(shopper)).toEqual({ "secret-key": 1 });
  });

  test("changing an unknown product or to a bad quantity gets 400, and changes nothing", async () => {
    const shopper = t.agent();
    await addToCart(shopper, { product: "secret-key", quantity: "3" });
    expect((await setQuantity(shopper, "unicorn", "1")).status).toBe(400);
    expect((await setQuantity(shopper, "secret-key", "")).status).toBe(400);
    expect((await setQuantity(shopper, "secret-key", "999")).status).toBe(400);
    expect(await cartOf(shopper)).toEqual({ "secret-key": 3 });
  });

  test("a line never holds more than 99", async () => {
    const shopper = t.agent();
    await addToCart(shopper, { product: "cookie-jar", quantity: "98" });
    expect((await addToCart(shopper, { product: "cookie-jar", quantity: "1" })).status).toBe(303);
    const res = await addToCart(shopper, { product: "cookie-jar", quantity: "1" });
    expect(res.status).toBe(400);
    expect(formErrorsOf(res.text)).toEqual(["You can have at most 99 of “Cookie jar” (you have 99)."]);
    expect(await cartOf(shopper)).toEqual({ "cookie-jar": 99 });
  });

  test("adding without a CSRF token is refused", async () => {
    const shopper = t.agent();
    await shopper.get("/cart");
    expect((await shopper.post("/cart/items").type("form").send({ product: "padlock" })).status).toBe(403);
    expect(await cartOf(shopper)).toEqual({});
  });

  test("works logged out, survives log-in, and is gone after log-out", async () => {
    await signUp(t.agent(), "shopper");
    const shopper = t.agent();
    await addToCart(shopper, { product: "shredder", quantity: "2" });
    await logIn(shopper, "shopper");
    expect(await cartOf(shopper)).toEqual({ shredder: 2 });
    expect(textOf((await shopper.get("/")).text, "cart-count")).toBe("2");
    await logOut(shopper);
    expect(await cartOf(shopper)).toEqual({});
  });
});
