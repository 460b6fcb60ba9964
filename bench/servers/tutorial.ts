// Contender 4: what a tutorial gives: express-session + session-file-store 1.5.0 with its
// defaults (only the folder is set, so runs do not share files), rendering the same pages.
import session from "express-session";
import fileStoreFactory from "session-file-store";
import { listen, referenceApp } from "./page";

const FileStore = fileStoreFactory(session);
const app = referenceApp();
app.use(
  session({
    store: new FileStore({ path: process.env.SESSION_DIR, logFn: () => undefined }),
    secret: process.env.SESSION_SECRET ?? "bench",
    resave: false,
    saveUninitialized: false,
  }),
);
app.get("/", (req, res) => {
  const data = req.session as unknown as { visits?: number; name?: string };
  data.visits = (data.visits ?? 0) + 1;
  res.render("index", { visits: data.visits, currentUser: data.name, path: "/" });
});
app.get("/secret", (req, res) => {
  const name = (req.session as unknown as { name?: string }).name;
  if (!name) return res.redirect(303, "/login");
  res.render("secret", { currentUser: name, path: "/secret" });
});
// How the bench logs a session in (the tutorial's login stores the name in the session).
app.get("/bench-login", (req, res) => {
  (req.session as unknown as { name: string }).name = "bench";
  res.redirect(303, "/");
});
listen(app);
