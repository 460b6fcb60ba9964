// `req.session`'s callback methods (express-session's API), as promises, in one place.
import type { Request } from "express";

function call(req: Request, method: "regenerate" | "save" | "destroy"): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session[method]((err?: unknown) => (err ? reject(err) : resolve()));
  });
}

/** A new id for this visitor (the old record is deleted): the defence against fixation. */
export const regenerateSession = (req: Request) => call(req, "regenerate");
/** Writes the session now, before a redirect makes the browser ask for the next page. */
export const saveSession = (req: Request) => call(req, "save");
export const destroySession = (req: Request) => call(req, "destroy");
