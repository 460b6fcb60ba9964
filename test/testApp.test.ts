// The test fixture itself: an app a test makes is closed and its folder removed once that
// test is over, even when the test fails, so no failure leaves files or connections behind.
import { existsSync } from "node:fs";
import { makeTestApp, reopen, signUp, type TestApp } from "./helpers";

describe("an app made by a test", () => {
  let made: TestApp;
  let restarted: TestApp;

  test.failing("(a test that fails after making one, and restarting it)", async () => {
    made = makeTestApp();
    await signUp(made.agent(), "left-behind");
    await made.close();
    restarted = reopen(made, {});
    throw new Error("this test fails on purpose");
  });

  test("is closed, and its folder gone, once that test is over", async () => {
    for (const app of [made, restarted]) {
      expect(existsSync(app.dir)).toBe(false);
      await expect(app.users.findByName("left-behind")).rejects.toThrow();
    }
  });
});
