// Contender 3: the same pages with no session layer at all (the ceiling).
import { listen, referenceApp } from "./page";

const app = referenceApp();
app.get("/", (_req, res) => res.render("index", { visits: 1, currentUser: "bench", path: "/" }));
app.get("/secret", (_req, res) => res.render("secret", { currentUser: "bench", path: "/secret" }));
app.get("/bench-login", (_req, res) => res.redirect(303, "/"));
listen(app);
