// The reference servers render the app's own home page with the app's own templates, so
// every contender does the same rendering work.
import express from "express";
import nunjucks from "nunjucks";
import { VIEWS_DIR } from "../../src/paths";
import type { SessionControl } from "../../src/sessions/session";

export function referenceApp(): express.Express {
  const app = express();
  app.disable("x-powered-by");
  const views = new nunjucks.Environment(new nunjucks.FileSystemLoader(VIEWS_DIR), { autoescape: true });
  views.express(app);
  app.set("view engine", "njk");
  Object.assign(app.locals, { takeFlashes: () => [], csrfToken: () => "token", cartCount: 0 });
  return app;
}

export function listen(app: express.Express): void {
  const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    const address = server.address();
    console.log(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`);
  });
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

/** `req.session`'s methods for the stand-in session layers (layerOff.ts, leanLayer.ts): nothing is stored through them. */
export const nothingStored: SessionControl = {
  regenerate: async () => {},
  destroy: async () => {},
  save: async () => {},
  reload: async () => {},
  touch: () => {},
};
