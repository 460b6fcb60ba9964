// Files from public/ (the stylesheet, images), served before logging and sessions: no
// session work for a stylesheet.
import path from "node:path";
import express, { type NextFunction, type Request, type RequestHandler, type Response } from "express";
import { PUBLIC_DIR } from "../paths";

/**
 * Only paths with an extension are looked up in public/, so a page request costs no
 * stat() of the folder on its way to the session layer.
 */
export function staticFiles(production: boolean): RequestHandler {
  const serve = express.static(PUBLIC_DIR, { index: false, maxAge: production ? "1h" : 0 });
  return function serveStatic(req: Request, res: Response, next: NextFunction) {
    if (path.extname(req.path) === "") return next();
    serve(req, res, next);
  };
}
