// Two projects, one `npm test`: every test once (file store, the default), and the app's
// tests a second time against Redis (test/onRedis.ts sets HANDSTAMP_TEST_STORE; the
// helpers then start a redis-server per test file and point every app at it).
const common = {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
};

/** The tests of what a visitor does, whatever the store. */
const APP_TESTS = [
  "home",
  "auth",
  "cart",
  "account",
  "inspector",
  "throttle",
  "badInput",
  "cookieless",
  "flash",
];

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: "file", testMatch: ["**/*.test.ts"] },
    {
      ...common,
      displayName: "redis",
      testMatch: APP_TESTS.map((name) => `**/test/${name}.test.ts`),
      setupFiles: ["<rootDir>/test/onRedis.ts"],
    },
  ],
};
