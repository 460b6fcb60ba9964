// The floors: the bench's bare page with handstamp's headers and log (noSession.ts with
// BENCH_APP_LAYERS=1) plus a few lines of what one kind of session storage does per
// request, written by hand (floorWork.ts, where BENCH_FLOOR's kinds are listed), and
// nothing of a session layer: no `req.session`, no change detection, no flash, no routers.
// They show how far below that page a storage design starts, before any session layer;
// docs/speed.md reads the figures, and says what they do not prove.
import { pino } from "pino";
import { securityHeaders } from "../../src/http/headers";
import { requestLogging } from "../../src/http/requestLog";
import { floorWork } from "./floorWork";
import { listen, referenceApp } from "./page";

const floorVisit = floorWork(
  process.env.BENCH_FLOOR ?? "",
  process.env.SESSION_DIR!,
  process.env.SESSION_SECRET ?? "",
);

const app = referenceApp();
app.set("trust proxy", "loopback");
app.set("etag", false); // as handstamp and the bare page
app.use(securityHeaders(true));
app.use(requestLogging(pino({ level: "info" })));
app.get("/", (req, res) => {
  const visit = floorVisit(req.headers.cookie);
  if ("status" in visit) return res.status(visit.status).send(visit.message);
  if (visit.csrfToken !== undefined) res.locals.csrfToken = () => visit.csrfToken;
  res.render("index", { visits: visit.visits, currentUser: "bench", path: "/" });
});
listen(app);
