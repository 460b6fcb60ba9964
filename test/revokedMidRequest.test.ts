// A stolen session's slow request: its headers arrive, then the victim revokes it, then
// its body arrives. The request must not finish as the logged-in user.
import { connect } from "node:net";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  cookiePair,
  csrfFrom,
  csrfOf,
  logIn,
  makeTestApp,
  PASSWORD,
  sessionIdFrom,
  signUp,
  type TestApp,
} from "./helpers";

/** A request sent by hand: headers now, body when asked; resolves to the raw answer. */
function slowPost(port: number, path: string, cookie: string, body: string) {
  const socket = connect(port, "127.0.0.1");
  const answer = new Promise<string>((resolve, reject) => {
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
  socket.write(
    [
      `POST ${path} HTTP/1.1`,
      "Host: 127.0.0.1",
      `Cookie: ${cookie}`,
      "Content-Type: application/x-www-form-urlencoded",
      `Content-Length: ${Buffer.byteLength(body)}`,
      "Connection: close",
      "",
      "",
    ].join("\r\n"),
  );
  return {
    sendBody: () => socket.write(body),
    answer,
  };
}

describe("a session revoked while its request is on the way", () => {
  let t: TestApp;
  let server: Server;

  beforeAll(async () => {
    t = makeTestApp();
    await new Promise<void>((resolve) => (server = t.app.listen(0, "127.0.0.1", () => resolve())));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test("does not finish: the victim's other sessions stay logged in", async () => {
    const victim = t.agent();
    await signUp(victim, "victim");
    const laptop = t.agent();
    await logIn(laptop, "victim");
    // The thief logs in with the stolen password, and keeps its cookies for a raw request.
    const thief = t.agent();
    const loginPage = await thief.get("/login");
    const stolen = await thief
      .post("/login")
      .type("form")
      .send({ username: "victim", password: PASSWORD, _csrf: csrfFrom(loginPage.text) });
    const stolenId = sessionIdFrom(stolen)!;
    const cookie = `${cookiePair(stolen)}; ${cookiePair(loginPage, "csrf")}`;
    const _csrf = await csrfOf(thief, "/account/sessions");

    // The store is the real one; the test only learns when it has handed the thief's
    // session to the request (its headers are read, its body not yet sent).
    const store = t.storage.store;
    const get = store.get.bind(store);
    const loaded = new Promise<void>((resolve) => {
      store.get = async (id) => {
        const record = await get(id);
        if (id === stolenId) setImmediate(resolve);
        return record;
      };
    });
    const port = (server.address() as AddressInfo).port;
    const request = slowPost(
      port,
      "/account/sessions/others",
      cookie,
      new URLSearchParams({ _csrf }).toString(),
    );
    await loaded;
    store.get = get;

    // The victim ends every other session (the thief's included) meanwhile.
    const _victimCsrf = await csrfOf(victim, "/account/sessions");
    const ended = await victim.post("/account/sessions/others").type("form").send({ _csrf: _victimCsrf });
    expect(ended.status).toBe(303);
    await logIn(laptop, "victim");

    request.sendBody();
    const answer = await request.answer;
    expect(answer).not.toMatch(/^HTTP\/1\.1 303/);
    expect(answer).not.toMatch(/Location: \/account\/sessions/);
    // The victim is still logged in, here and on the laptop they logged in again from.
    expect((await victim.get("/secret")).status).toBe(200);
    expect((await laptop.get("/secret")).status).toBe(200);
  });
});
