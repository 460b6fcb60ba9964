// Jest's "redis" project (jest.config.js): the app's tests, on SESSION_STORE=redis.
process.env.HANDSTAMP_TEST_STORE = "redis";
