// The security headers every page and file carries: the ones helmet would send with our
// Content-Security-Policy (helmet itself runs only here, to compare), production's HSTS
// and upgrade-insecure-requests, and nothing else that differs between requests.
import express from "express";
import helmet from "helmet";
import request from "supertest";
import { useTestApp } from "./helpers";

/** Our policy as helmet's options: what the precomputed set must match. */
function helmetOptions(production: boolean) {
  return {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        upgradeInsecureRequests: production ? [] : null,
      },
    },
    strictTransportSecurity: production,
  };
}

/** The headers helmet adds to a response: a bare Express app's answer, with and without it. */
async function helmetHeaders(production: boolean): Promise<Record<string, string>> {
  const page = (app: express.Express) => app.get("/", (_req, res) => res.send("page"));
  const bare = express();
  bare.disable("x-powered-by");
  const withHelmet = express();
  withHelmet.use(helmet(helmetOptions(production)));
  const plain = (await request(page(bare)).get("/")).headers;
  const helmeted = (await request(page(withHelmet)).get("/")).headers;
  return Object.fromEntries(
    Object.entries(helmeted).filter(([name]) => !(name in plain) && name !== "x-powered-by"),
  ) as Record<string, string>;
}

describe.each([
  ["development", "test", false],
  ["production", "production", true],
] as const)("in %s", (_name, nodeEnv, production) => {
  // Production behind its TLS proxy: the proxy says the request came over HTTPS.
  const t = useTestApp({ NODE_ENV: nodeEnv, TRUST_PROXY: "loopback" });
  const overHttps = { "X-Forwarded-Proto": "https" };

  test.each(["/", "/login", "/cart", "/no-such-page", "/style.css", "/healthz"])(
    "%s carries every header helmet would send, with the same values",
    async (path) => {
      const expected = await helmetHeaders(production);
      expect(Object.keys(expected).length).toBeGreaterThanOrEqual(11);
      const res = await request(t.app).get(path).set(overHttps);
      for (const [name, value] of Object.entries(expected)) {
        expect([name, res.headers[name]]).toEqual([name, value]);
      }
      expect(res.headers["x-powered-by"]).toBeUndefined();
    },
  );

  test("the policy upgrades to https and pins HTTPS (HSTS) only in production", async () => {
    const res = await request(t.app).get("/").set(overHttps);
    const csp = res.headers["content-security-policy"]!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp.includes("upgrade-insecure-requests")).toBe(production);
    expect(res.headers["strict-transport-security"] !== undefined).toBe(production);
  });
});
