// A small fixed catalogue: the cart is about sessions, not about a shop.
export interface Product {
  id: string;
  name: string;
  priceCents: number;
  description: string;
}

export const PRODUCTS: readonly Product[] = Object.freeze([
  {
    id: "stamp-classic",
    name: "Classic hand stamp",
    priceCents: 450,
    description: "The amusement-park stamp that lets you back in: the original session id.",
  },
  {
    id: "cookie-jar",
    name: "Cookie jar",
    priceCents: 1200,
    description: "Keeps small pieces of data for one site, and hands them back on every visit.",
  },
  {
    id: "secret-key",
    name: "Secret key",
    priceCents: 2500,
    description: "32 random bytes that sign every cookie. Never commit it.",
  },
  {
    id: "hourglass",
    name: "Idle-timeout hourglass",
    priceCents: 900,
    description: "Thirty minutes of sand: when it runs out, so does the session.",
  },
  {
    id: "padlock",
    name: "Session padlock",
    priceCents: 1500,
    description: "One request at a time: no update of the cart is ever lost.",
  },
  {
    id: "shredder",
    name: "Log-out shredder",
    priceCents: 3000,
    description: "Destroys the session on the server, not just the cookie.",
  },
]);

const BY_ID = new Map(PRODUCTS.map((p) => [p.id, p]));

export function findProduct(id: string | undefined): Product | undefined {
  return id === undefined ? undefined : BY_ID.get(id);
}

export function formatPrice(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}
