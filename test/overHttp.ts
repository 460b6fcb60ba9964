// Helpers for tests over real HTTP (fetch against listening apps and server processes),
// where requests must really overlap.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { cookiePair, csrfFrom, sessionIdFrom, useTestApp, type TestApp } from "./helpers";

/** A test app on a real port for one describe block, so that requests really overlap. */
export function useListeningApp(env: Record<string, string>): TestApp & { url: string } {
  const t = useTestApp(env) as TestApp & { url: string };
  let server: Server;
  beforeAll(
    () =>
      new Promise<void>((resolve) => {
        server = t.app.listen(0, "127.0.0.1", () => {
          t.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          resolve();
        });
      }),
  );
  afterAll(() => new Promise<void>((done) => server.close(() => done())));
  return t;
}

/** A browser's session: its cookie, taken from a first visit. */
export async function newSession(url: string): Promise<{ cookie: string; id: string }> {
  const res = await fetch(`${url}/`);
  return { cookie: cookiePair(res), id: sessionIdFrom(res)! };
}

export const visitsIn = (html: string) => Number(/data-testid="visits">(\d+)</.exec(html)?.[1]);

export async function getHome(url: string, cookie: string) {
  const res = await fetch(`${url}/`, { headers: { cookie } });
  return { status: res.status, visits: visitsIn(await res.text()) };
}

/** 200 overlapping views of one session, spread over the given servers. */
export async function concurrentVisits(urls: string[], cookie: string, count = 200) {
  return Promise.all(Array.from({ length: count }, (_, i) => getHome(urls[i % urls.length]!, cookie)));
}

export async function concurrentAdds(urls: string[], cookie: string, count: number) {
  const page = await (await fetch(`${urls[0]}/cart`, { headers: { cookie } })).text();
  const body = new URLSearchParams({ _csrf: csrfFrom(page), product: "cookie-jar", quantity: "1" });
  const add = (url: string) =>
    fetch(`${url}/cart/items`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body,
      redirect: "manual",
    }).then((res) => res.status);
  const statuses = await Promise.all(Array.from({ length: count }, (_, i) => add(urls[i % urls.length]!)));
  return { statuses, add: () => add(urls[0]!) };
}

export async function cartQuantity(url: string, cookie: string): Promise<number> {
  const html = await (await fetch(`${url}/cart`, { headers: { cookie } })).text();
  return Number(
    /data-product="cookie-jar"[\s\S]*?value="(\d+)" data-testid="line-quantity"/.exec(html)?.[1] ?? 0,
  );
}

export function expectEveryCountOnce(results: { status: number; visits: number }[], from: number) {
  expect(results.every((r) => r.status === 200)).toBe(true);
  const counts = results.map((r) => r.visits).sort((a, b) => a - b);
  expect(counts).toEqual(Array.from({ length: results.length }, (_, i) => from + i));
}
