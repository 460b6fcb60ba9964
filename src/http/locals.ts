// What every page's layout shows besides the page itself (the navigation's user and cart
// count, the current path): read from the session once, for the templates.
import type { NextFunction, Request, Response } from "express";
import { currentUser } from "../auth/requireLogin";
import { itemCount } from "../cart/cart";

export function exposeUser(req: Request, res: Response, next: NextFunction): void {
  res.locals.currentUser = currentUser(req)?.name;
  res.locals.cartCount = itemCount(req.session.cart);
  res.locals.path = req.path;
  next();
}
