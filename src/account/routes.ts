// The account pages: change the password (which ends every other session, and is throttled
// like log-in), and see and end your own sessions ("your devices"). Mounted on /account:
// the paths below are within it, and every one of them needs a logged-in user.
import { Router } from "express";
import type { knownDeviceCookie } from "../auth/knownDevice";
import { currentUser, requireLogin } from "../auth/requireLogin";
import type { LoginSessions } from "../auth/loginSessions";
import { HANDLE_PATTERN } from "../auth/logins";
import type { Passwords } from "../auth/passwords";
import { tooMany, waitText } from "../auth/routes";
import type { Throttle } from "../auth/throttle";
import type { Users } from "../auth/users";
import { passwordProblem, PASSWORD_RULE } from "../auth/validation";
import { BadRequest, NotFound } from "../http/errors";
import { flash } from "../http/flash";
import { field } from "../http/forms";
import { saveSession } from "../sessions/promises";
import { describeBrowser } from "./browser";

export interface AccountDeps {
  users: Users;
  loginSessions: LoginSessions;
  throttle: Throttle;
  knownDevice: ReturnType<typeof knownDeviceCookie>;
  passwords: Passwords;
}

export function accountRouter({
  users,
  loginSessions,
  throttle,
  knownDevice,
  passwords,
}: AccountDeps): Router {
  const router = Router();
  router.use(requireLogin);

  router.get("/", function showAccount(_req, res) {
    res.render("account", { passwordRule: PASSWORD_RULE });
  });

  router.post("/password", async function changePassword(req, res) {
    const current = field(req.body, "current") ?? "";
    const password = field(req.body, "password") ?? "";
    const page = { passwordRule: PASSWORD_RULE };
    const user = await users.findById(currentUser(req)!.id);
    // The current password is guessed here as at log-in (from a stolen session, say): the
    // same lock, the same counts, and the browser's known-device cookie picks the budget.
    const known = user !== undefined && knownDevice.isKnown(req, user.username);
    const wait = user ? await throttle.tryAccount(user.username, known) : 0;
    if (wait > 0) {
      const text = `Too many wrong passwords for this account. Try again in ${waitText(wait)}.`;
      return tooMany(res, "account", wait, text, page);
    }
    const errors: string[] = [];
    const right = user !== undefined && (await passwords.verify(user.passwordHash, current));
    if (user)
      await (right ? throttle.rightPassword(user.username) : throttle.wrongPassword(user.username, known));
    if (!right) errors.push("Current password: that is not your password.");
    const problem = passwordProblem(password);
    if (problem) errors.push(`New ${problem.charAt(0).toLowerCase()}${problem.slice(1)}`);
    if (errors.length > 0 || !user) {
      return res.status(400).render("account", { ...page, errors });
    }
    await users.setPasswordHash(user.id, await passwords.hash(password));
    const ended = await loginSessions.endOthers(user.id, req.sessionID);
    await loginSessions.renew(req);
    flash(req, "success", `Your password was changed. ${endedText(ended)}`);
    await saveSession(req);
    res.redirect(303, "/account");
  });

  router.get("/sessions", async function showSessions(req, res) {
    const sessions = (await loginSessions.liveFor(currentUser(req)!.id)).map((login) => ({
      handle: login.handle,
      createdAt: new Date(login.createdAt).toISOString(),
      lastSeen: new Date(login.lastSeen).toISOString(),
      browser: describeBrowser(login.userAgent),
      current: login.sessionId === req.sessionID,
    }));
    res.render("sessions", { sessions });
  });

  router.post("/sessions/others", async function endOtherSessions(req, res) {
    const ended = await loginSessions.endOthers(currentUser(req)!.id, req.sessionID);
    flash(req, "success", endedText(ended));
    await saveSession(req);
    res.redirect(303, "/account/sessions");
  });

  router.post("/sessions/:handle/revoke", async function revokeSession(req, res) {
    const handle = req.params.handle;
    const own =
      HANDLE_PATTERN.test(handle) &&
      (await loginSessions.liveFor(currentUser(req)!.id)).find((l) => l.handle === handle);
    if (own && own.sessionId === req.sessionID) {
      throw new BadRequest("To end this session, log out.");
    }
    if (!own || !(await loginSessions.revoke(currentUser(req)!.id, handle))) throw new NotFound();
    flash(req, "success", "That session was ended: the device it was on is logged out.");
    await saveSession(req);
    res.redirect(303, "/account/sessions");
  });

  return router;
}

function endedText(count: number): string {
  if (count === 0) return "You had no other session.";
  return `${count} other session${count === 1 ? " was" : "s were"} logged out.`;
}
