// What the bench and the profiler share: where things are, and how a script logs in to a
// handstamp server the way a browser does (form page, CSRF token, POST, cookie).
export { ROOT, TSX_LOADER } from "../test/processes";
/** handstamp runs in production mode behind a "proxy": its Secure cookies need this. */
export const HTTPS = { "x-forwarded-proto": "https" };

/** The `name=value` of the cookie a response sets. */
export function cookieOf(res: Response, name: string): string {
  const header = res.headers.getSetCookie().find((h) => h.startsWith(`${name}=`));
  if (!header) throw new Error(`no ${name} cookie (status ${res.status})`);
  return header.split(";")[0]!;
}

const tokenOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

/** Opens a handstamp form page, then posts its form as the bench user: the 303's cookie. */
export async function postCredentials(
  url: string,
  cookieName: string,
  form: "/login" | "/signup",
): Promise<string> {
  const page = await fetch(`${url}${form}`, { headers: HTTPS });
  // The form page sets the cookies the post needs back (its CSRF cookie, maybe a session).
  const pageCookies = page.headers.getSetCookie().map((header) => header.split(";")[0]!);
  const res = await fetch(`${url}${form}`, {
    method: "POST",
    headers: {
      ...HTTPS,
      cookie: pageCookies.join("; "),
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      _csrf: tokenOf(await page.text()),
      username: "bench",
      password: "bench password 123",
    }),
    redirect: "manual",
  });
  if (res.status !== 303) throw new Error(`${form} failed: ${res.status}`);
  return cookieOf(res, cookieName);
}
