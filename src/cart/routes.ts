// The cart kept in the session: the Flask sessions course's classic use of a session.
// Works logged in or not, survives log-in (the new session keeps it), is gone after log-out.
// Mounted on /cart: the paths below are within it.
import { Router, type Request, type Response } from "express";
import { flash } from "../http/flash";
import { field } from "../http/forms";
import { saveSession } from "../sessions/promises";
import { addToCart, cartLines, parseQuantity, setQuantity, type CartChange } from "./cart";
import { findProduct, formatPrice, PRODUCTS } from "./catalogue";

const BAD_QUANTITY = "Quantity: use a whole number from 0 to 99.";
const UNKNOWN_PRODUCT = "That product is not in the catalogue.";

export function cartRouter(): Router {
  const router = Router();

  router.get("/", function showCart(req, res) {
    renderCart(req, res, 200);
  });

  router.post("/items", async function addItem(req, res) {
    const product = findProduct(field(req.body, "product"));
    const quantity = parseQuantity(field(req.body, "quantity"), 1);
    if (!product) return renderCart(req, res, 400, UNKNOWN_PRODUCT);
    if (quantity === undefined) return renderCart(req, res, 400, BAD_QUANTITY);
    await applyChange(
      req,
      res,
      addToCart(req.session.cart, product, quantity),
      `Added ${quantity} × ${product.name}.`,
    );
  });

  router.post("/items/:product", async function changeQuantity(req, res) {
    const product = findProduct(req.params.product);
    const quantity = parseQuantity(field(req.body, "quantity"));
    if (!product) return renderCart(req, res, 400, UNKNOWN_PRODUCT);
    if (quantity === undefined) return renderCart(req, res, 400, BAD_QUANTITY);
    const message =
      quantity === 0 ? `Removed ${product.name}.` : `${product.name}: quantity set to ${quantity}.`;
    await applyChange(req, res, setQuantity(req.session.cart, product, quantity), message);
  });

  router.post("/clear", async function clearCart(req, res) {
    delete req.session.cart;
    flash(req, "info", "Your cart is empty.");
    await saveSession(req);
    res.redirect(303, "/cart");
  });

  return router;
}

async function applyChange(req: Request, res: Response, change: CartChange, message: string) {
  if (!change.ok) return renderCart(req, res, 400, change.problem);
  req.session.cart = change.cart;
  flash(req, "success", message);
  await saveSession(req);
  res.redirect(303, "/cart");
}

function renderCart(req: Request, res: Response, status: number, error?: string) {
  const { lines, totalCents } = cartLines(req.session.cart);
  res.status(status).render("cart", {
    products: PRODUCTS.map((p) => ({ ...p, price: formatPrice(p.priceCents) })),
    lines: lines.map((line) => ({
      ...line,
      price: formatPrice(line.product.priceCents),
      total: formatPrice(line.totalCents),
    })),
    total: formatPrice(totalCents),
    error,
  });
}
