// Jest's "postgres" project (jest.config.js): the account tests, on DATABASE_URL.
process.env.HANDSTAMP_TEST_DATABASE = "postgres";
