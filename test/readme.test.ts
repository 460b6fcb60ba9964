// The documentation against the code: every setting src/config.ts reads is explained in the
// README's configuration table and listed in .env.example, and every link between the README
// and docs/ leads somewhere. The list of settings is read from config.ts, never written here,
// so a new setting without its documentation fails this test.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The environment variables config.ts reads: its zod schema's keys, and what it takes from `given`/`env` itself. */
function variablesReadBy(source: string): string[] {
  const names = new Set<string>();
  // Every top-level z.object({ … }) (it closes at the start of a line): its keys are at two spaces.
  for (const [, body] of source.matchAll(/\bz\.object\(\{([\s\S]*?)\n\}\)/g)) {
    for (const [, name] of body!.matchAll(/^ {2}([A-Z][A-Z0-9_]*)\s*:/gm)) names.add(name!);
  }
  for (const [, dotted, quoted] of source.matchAll(
    /\b(?:given|env)\??\.([A-Z][A-Z0-9_]*)\b|\b(?:given|env)\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]/g,
  )) {
    names.add((dotted ?? quoted)!);
  }
  return [...names].sort();
}

/** The variables named in the first column of the README's "## Configuration" table. */
function variablesInReadmeTable(readme: string): Set<string> {
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? "";
  const names = new Set<string>();
  for (const row of section.split("\n").filter((line) => line.startsWith("|"))) {
    const firstCell = row.split("|")[1] ?? "";
    for (const [, name] of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(name!);
  }
  return names;
}

function variablesInEnvExample(text: string): Set<string> {
  return new Set([...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map(([, name]) => name!));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchorsIn(markdown: string): Set<string> {
  const outsideCode = markdown.replace(/^```[\s\S]*?^```/gm, "");
  return new Set([...outsideCode.matchAll(/^#{1,6}\s+(.+)$/gm)].map(([, heading]) => anchorOf(heading!)));
}

/** Every local link target in a Markdown file: [text](target) and <img src="target">. */
function localLinksIn(markdown: string): string[] {
  const outsideCode = markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  const targets = [
    ...[...outsideCode.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target!),
    ...[...outsideCode.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map(([, target]) => target!),
  ];
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

const DOCS = [
  "README.md",
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

describe("the README and .env.example document every setting", () => {
  const variables = variablesReadBy(read("src/config.ts"));

  test("the settings are read from config.ts itself", () => {
    // If config.ts changed shape and nothing was found, the checks below would pass on nothing.
    expect(variables).toEqual(
      expect.arrayContaining(["NODE_ENV", "SESSION_SECRET", "SESSION_STORE", "PORT"]),
    );
  });

  test.each(variables)("%s is in the README's configuration table", (name) => {
    expect([...variablesInReadmeTable(read("README.md"))]).toContain(name);
  });

  test.each(variables)("%s is in .env.example", (name) => {
    expect([...variablesInEnvExample(read(".env.example"))]).toContain(name);
  });
});

describe("links between the README and docs/", () => {
  test("the README links to docs/", () => {
    expect(
      localLinksIn(read("README.md")).filter((target) => target.startsWith("docs/")).length,
    ).toBeGreaterThan(0);
  });

  test.each(DOCS)("every link in %s leads to a file, and to a heading that exists", (file) => {
    const broken: string[] = [];
    for (const link of localLinksIn(read(file))) {
      const [target = "", anchor] = link.split("#");
      const resolved =
        target === "" ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), target);
      if (!existsSync(resolved)) {
        broken.push(`${link} (no such file)`);
      } else if (
        anchor &&
        resolved.endsWith(".md") &&
        !anchorsIn(readFileSync(resolved, "utf8")).has(anchor)
      ) {
        broken.push(`${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
