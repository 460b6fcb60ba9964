// Sign-up, log-in and log-out: the seeds' login app, with real accounts, CSRF tokens,
// a new session id at log-in and a deleted session at log-out.
import { Router, type CookieOptions, type Request } from "express";
import { flash } from "../http/flash";
import { destroySession, regenerateSession, saveSession } from "../sessions/promises";
import { safeNextPath } from "./nextPath";
import { hashPassword, verifyPassword } from "./passwords";
import type { User, Users } from "./users";
import { field, passwordProblem, PASSWORD_RULE, usernameProblem, USERNAME_RULE } from "./validation";

export interface AuthDeps {
  users: Users;
  sessionCookie: { name: string; options: CookieOptions };
}

const INVALID_LOGIN = "Invalid username or password.";
/** What belongs to the visitor rather than to the log-in, and so survives it. */
const KEPT_ACROSS_LOGIN = ["visits", "cart"] as const;

export function authRouter({ users, sessionCookie }: AuthDeps): Router {
  const router = Router();
  const rules = { usernameRule: USERNAME_RULE, passwordRule: PASSWORD_RULE };

  router.get("/signup", function showSignup(_req, res) {
    res.render("signup", rules);
  });

  router.post("/signup", async function signUp(req, res) {
    const username = field(req.body, "username") ?? "";
    const password = field(req.body, "password") ?? "";
    const problems = [usernameProblem(username), passwordProblem(password)].filter(Boolean);
    if (problems.length > 0) {
      return res.status(400).render("signup", { ...rules, username, errors: problems });
    }
    const taken = ["That username is taken: choose another one."];
    if (users.findByName(username)) {
      return res.status(409).render("signup", { ...rules, username, errors: taken });
    }
    const user = users.create(username, await hashPassword(password));
    if (!user) return res.status(409).render("signup", { ...rules, username, errors: taken });
    await startUserSession(req, user);
    flash(req, "success", `Welcome, ${user.username}`);
    await saveSession(req);
    res.redirect(303, "/");
  });

  router.get("/login", function showLogin(req, res) {
    res.render("login", { next: safeNextPath(field(req.query, "next")) });
  });

  router.post("/login", async function logIn(req, res) {
    const username = field(req.body, "username");
    const password = field(req.body, "password");
    const next = safeNextPath(field(req.body, "next"));
    if (!username || !password) {
      return res.status(400).render("login", {
        username,
        next,
        error: "Enter your username and your password.",
      });
    }
    const user = users.findByName(username);
    // Unknown name or wrong password: same work, same answer.
    if (!(await verifyPassword(user?.passwordHash, password)) || !user) {
      return res.status(401).render("login", { username, next, error: INVALID_LOGIN });
    }
    await startUserSession(req, user);
    flash(req, "success", `Welcome back, ${user.username}`);
    await saveSession(req);
    res.redirect(303, next);
  });

  router.get("/logout", function showLogout(_req, res) {
    res.render("logout");
  });

  router.post("/logout", async function logOut(req, res) {
    await destroySession(req);
    res.clearCookie(sessionCookie.name, sessionCookie.options);
    res.flashAfterSession("logged-out");
    res.redirect(303, "/");
  });

  return router;
}

/**
 * Logs the visitor in under a new session id: the old record is deleted, so an id
 * planted before log-in (session fixation) is worth nothing after it. The new session
 * has a new CSRF token too, since it starts empty.
 */
async function startUserSession(req: Request, user: User): Promise<void> {
  const kept = Object.fromEntries(
    KEPT_ACROSS_LOGIN.filter((key) => req.session[key] !== undefined).map((key) => [key, req.session[key]]),
  );
  await regenerateSession(req);
  Object.assign(req.session, kept);
  req.session.userId = user.id;
  req.session.name = user.username;
}
