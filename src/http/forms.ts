// Reading form fields that a browser, or anyone, may have sent in any shape.

/** A form field as one string, or undefined if missing or sent as anything else. */
export function field(body: unknown, name: string): string | undefined {
  if (typeof body !== "object" || body === null || !Object.hasOwn(body, name)) return undefined;
  const value = (body as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}
