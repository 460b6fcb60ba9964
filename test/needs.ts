// Tests that need a service besides Node in part (a file needing one whole is listed in
// test/services.js instead). Where the service is missing and CI is not set, jest.config.js
// says so through this global, and the describe is skipped with the reason in its title,
// which test/skippedReporter.js lists at the end.
type Service = "redis" | "chromium" | "postgres";

declare const missingServices: Partial<Record<Service, { program: string; install: string }>>;

export function describeNeeding(services: Service[], title: string, body: () => void): void {
  const missing = services.flatMap((name) => missingServices[name] ?? []);
  if (missing.length === 0) return describe(title, body);
  const why = missing.map(({ program, install }) => `${program} (${install})`).join(", ");
  describe.skip(`${title} [skipped: needs ${why}]`, body);
}
