// Contender 3: the same pages with no session layer at all (the ceiling). With
// BENCH_APP_LAYERS=1, it also has handstamp's own layers and settings that are not about
// sessions (security headers, request logging, no ETag), to tell what the sessions cost
// from what the rest of the app costs.
import { pino } from "pino";
import { securityHeaders } from "../../src/http/headers";
import { requestLogging } from "../../src/http/requestLog";
import { listen, referenceApp } from "./page";

const app = referenceApp();
if (process.env.BENCH_APP_LAYERS === "1") {
  app.set("trust proxy", "loopback");
  app.set("etag", false); // handstamp's pages have none (every one is no-store)
  app.use(securityHeaders(true));
  app.use(requestLogging(pino({ level: "info" })));
}
app.get("/", (_req, res) => res.render("index", { visits: 1, currentUser: "bench", path: "/" }));
app.get("/secret", (_req, res) => res.render("secret", { currentUser: "bench", path: "/secret" }));
app.get("/bench-login", (_req, res) => res.redirect(303, "/"));
listen(app);
