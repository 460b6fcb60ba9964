// Where to go after log-in: only a path on this site, never another origin.
// Rejects "//evil.example", "/\evil.example", "https://…", "javascript:…" and the like.
export function safeNextPath(next: string | undefined): string {
  if (!next || next.length > 2048) return "/";
  if (!next.startsWith("/") || next.startsWith("//")) return "/";
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we refuse
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  return next;
}
