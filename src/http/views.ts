// The app's own Nunjucks environment (never the global nunjucks.configure), so two apps
// in one process (the tests) never share templates or settings.
import nunjucks from "nunjucks";
import { VIEWS_DIR } from "../paths";

export function createViews(production: boolean): nunjucks.Environment {
  // Outside production a changed template shows on the next request.
  const loader = new nunjucks.FileSystemLoader(VIEWS_DIR, { noCache: !production });
  return new nunjucks.Environment(loader, { autoescape: true });
}
