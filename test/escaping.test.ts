// What a hostile page or visitor could plant: text sent back in a page is escaped, and no
// other site can frame ours (clickjacking).
import request from "supertest";
import { csrfOf, useTestApp } from "./helpers";

const t = useTestApp();
const SCRIPT = `<script>alert("x")</script>`;

describe("escaping and framing", () => {
  test("a name typed in the log-in form comes back escaped, never as markup", async () => {
    const agent = t.agent();
    const _csrf = await csrfOf(agent, "/login");
    const res = await agent.post("/login").type("form").send({ username: SCRIPT, password: "x", _csrf });
    expect(res.status).toBe(401);
    expect(res.text).not.toContain(SCRIPT);
    expect(res.text).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  });

  test.each(["/", "/login", "/session"])("%s cannot be framed by another site", async (page) => {
    const res = await request(t.app).get(page);
    expect(res.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
  });
});
