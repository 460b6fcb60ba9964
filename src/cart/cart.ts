// The cart's rules, as pure functions over what the session holds: product id → quantity.
import { PRODUCTS, type Product } from "./catalogue";

export type Cart = Record<string, number>;

export const MAX_PER_LINE = 99;

export interface CartLine {
  product: Product;
  quantity: number;
  totalCents: number;
}

/** A quantity as typed in a form: a whole number from 0 to 99, or undefined. */
export function parseQuantity(text: string | undefined, fallback?: number): number | undefined {
  if (text === undefined || text.trim() === "") return fallback;
  if (!/^\d{1,2}$/.test(text.trim())) return undefined;
  return Number(text.trim());
}

export type CartChange = { ok: true; cart: Cart } | { ok: false; problem: string };

export function addToCart(cart: Cart | undefined, product: Product, quantity: number): CartChange {
  const current = quantityOf(cart, product.id);
  if (current + quantity > MAX_PER_LINE) {
    return {
      ok: false,
      problem: `You can have at most ${MAX_PER_LINE} of “${product.name}” (you have ${current}).`,
    };
  }
  return setQuantity(cart, product, current + quantity);
}

export function setQuantity(cart: Cart | undefined, product: Product, quantity: number): CartChange {
  const next: Cart = { ...cleaned(cart) };
  if (quantity === 0) delete next[product.id];
  else next[product.id] = quantity;
  return { ok: true, cart: next };
}

export function quantityOf(cart: Cart | undefined, productId: string): number {
  return cleaned(cart)[productId] ?? 0;
}

export function itemCount(cart: Cart | undefined): number {
  return Object.values(cleaned(cart)).reduce((sum, n) => sum + n, 0);
}

/** The cart's lines in catalogue order, with totals. */
export function cartLines(cart: Cart | undefined): { lines: CartLine[]; totalCents: number } {
  const quantities = cleaned(cart);
  const lines = PRODUCTS.filter((p) => quantities[p.id]).map((product) => {
    const quantity = quantities[product.id]!;
    return { product, quantity, totalCents: quantity * product.priceCents };
  });
  return { lines, totalCents: lines.reduce((sum, line) => sum + line.totalCents, 0) };
}

/** Only known products with sane quantities, whatever the session file holds. */
function cleaned(cart: Cart | undefined): Cart {
  const result: Cart = {};
  if (!cart || typeof cart !== "object") return result;
  for (const product of PRODUCTS) {
    const quantity = (cart as Record<string, unknown>)[product.id];
    if (Number.isInteger(quantity) && (quantity as number) > 0 && (quantity as number) <= MAX_PER_LINE) {
      result[product.id] = quantity as number;
    }
  }
  return result;
}
