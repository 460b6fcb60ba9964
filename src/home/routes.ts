// The Flask sessions course's two first pages: the visit counter, and a page only for logged-in users.
import { Router } from "express";
import { requireLogin } from "../auth/requireLogin";

export function homeRouter(): Router {
  const router = Router();

  router.get("/", function showHome(req, res) {
    req.session.visits = (req.session.visits ?? 0) + 1;
    res.render("index", { visits: req.session.visits });
  });

  router.get("/secret", requireLogin, function showSecret(_req, res) {
    res.render("secret");
  });

  return router;
}
