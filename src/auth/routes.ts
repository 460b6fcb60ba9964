// Sign-up, log-in and log-out: the Flask sessions course's login app, with real accounts,
// CSRF tokens, a new session id at log-in, "remember me", throttling, and a deleted session
// at log-out.
import { Router, type Request, type Response } from "express";
import { flash } from "../http/flash";
import { field } from "../http/forms";
import { saveSession } from "../sessions/promises";
import type { knownDeviceCookie } from "./knownDevice";
import type { LoginSessions } from "./loginSessions";
import { safeNextPath } from "./nextPath";
import type { Passwords } from "./passwords";
import type { Throttle } from "./throttle";
import type { Users } from "./users";
import { passwordProblem, PASSWORD_RULE, usernameProblem, USERNAME_RULE } from "./validation";

export interface AuthDeps {
  users: Users;
  loginSessions: LoginSessions;
  throttle: Throttle;
  knownDevice: ReturnType<typeof knownDeviceCookie>;
  passwords: Passwords;
}

const INVALID_LOGIN = "Invalid username or password.";

/** "1 minute", "15 minutes": how long to wait, for people. */
export function waitText(seconds: number): string {
  const minutes = Math.ceil(seconds / 60);
  return minutes <= 1 ? "a minute" : `${minutes} minutes`;
}

/** 429 with Retry-After, on the form the visitor was using. */
export function tooMany(res: Response, view: string, seconds: number, error: string, locals: object) {
  res.set("Retry-After", String(seconds));
  res.status(429).render(view, { ...locals, errors: [error], error });
}

const addressMessage = (seconds: number) =>
  `Too many attempts from your network. Try again in ${waitText(seconds)}.`;

/** One Router per page, each for the app to mount on its own path: /signup, /login, /logout. */
export function authRouters({ users, loginSessions, throttle, knownDevice, passwords }: AuthDeps): {
  signup: Router;
  login: Router;
  logout: Router;
} {
  const signup = Router();
  const login = Router();
  const logout = Router();
  const rules = { usernameRule: USERNAME_RULE, passwordRule: PASSWORD_RULE };

  signup.get("/", function showSignup(_req, res) {
    res.render("signup", rules);
  });

  signup.post("/", async function signUp(req, res) {
    const username = field(req.body, "username") ?? "";
    const password = field(req.body, "password") ?? "";
    const wait = await throttle.tryAddress(clientAddress(req));
    if (wait > 0) return tooMany(res, "signup", wait, addressMessage(wait), { ...rules, username });
    const problems = [usernameProblem(username), passwordProblem(password)].filter(Boolean);
    if (problems.length > 0) {
      return res.status(400).render("signup", { ...rules, username, errors: problems });
    }
    // Hashed before the name is looked at: a taken name costs the same argon2 work as a
    // free one, so the time of the answer tells nothing, and probing names stays slow.
    const user = await users.create(username, await passwords.hash(password));
    if (!user) {
      const taken = ["That username is taken: choose another one."];
      return res.status(409).render("signup", { ...rules, username, errors: taken });
    }
    await loginSessions.start(req, user, false);
    knownDevice.remember(res, user.username);
    flash(req, "success", `Welcome, ${user.username}`);
    await saveSession(req);
    res.redirect(303, "/");
  });

  login.get("/", function showLogin(req, res) {
    res.render("login", { next: safeNextPath(field(req.query, "next")) });
  });

  login.post("/", async function logIn(req, res) {
    const username = field(req.body, "username");
    const password = field(req.body, "password");
    const remember = field(req.body, "remember") !== undefined;
    const next = safeNextPath(field(req.body, "next"));
    const form = { username, next, remember };
    if (!username || !password) {
      return res.status(400).render("login", { ...form, error: "Enter your username and your password." });
    }
    const address = clientAddress(req);
    const addressWait = await throttle.tryAddress(address);
    if (addressWait > 0) return tooMany(res, "login", addressWait, addressMessage(addressWait), form);
    // A name the rule forbids has no account: it counts against the address only, never
    // against an account's budget (so "victim|device" cannot spend the victim's).
    if (usernameProblem(username)) {
      return res.status(401).render("login", { ...form, error: INVALID_LOGIN });
    }
    const known = knownDevice.isKnown(req, username);
    const accountWait = await throttle.tryAccount(username, known);
    if (accountWait > 0) {
      const text = `Too many failed log-ins for this account. Try again in ${waitText(accountWait)}.`;
      return tooMany(res, "login", accountWait, text, form);
    }
    const user = await users.findByName(username);
    // Unknown name or wrong password: same work, same answer.
    if (!(await passwords.verify(user?.passwordHash, password)) || !user) {
      await throttle.wrongPassword(username, known);
      return res.status(401).render("login", { ...form, error: INVALID_LOGIN });
    }
    await throttle.rightPassword(username, address);
    await loginSessions.start(req, user, remember);
    knownDevice.remember(res, user.username);
    flash(req, "success", `Welcome back, ${user.username}`);
    await saveSession(req);
    res.redirect(303, next);
  });

  logout.get("/", function showLogout(_req, res) {
    res.render("logout");
  });

  logout.post("/", async function logOut(req, res) {
    await loginSessions.end(req); // the session layer clears its cookie
    res.flashAfterSession("logged-out");
    res.redirect(303, "/");
  });

  return { signup, login, logout };
}

/** The client's address as Express sees it (TRUST_PROXY decides whether to believe proxies). */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
}
