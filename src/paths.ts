// Where the project's own folders are, from the compiled file (dist/) or the source (src/).
import path from "node:path";

export const PROJECT_ROOT = path.resolve(__dirname, "..");
export const VIEWS_DIR = path.join(PROJECT_ROOT, "views");
export const PUBLIC_DIR = path.join(PROJECT_ROOT, "public");
