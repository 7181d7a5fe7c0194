/**
 * Everything a tool folder supplies (names, versions, descriptions, hosts,
 * file names in problems, image references) is the tool author's text. Printed
 * raw, an ESC sequence can rewrite the operator's screen (hide a line, fake
 * "approved"), and a bidi control (U+202E …) can show `evil.com` as
 * `moc.live` while approving it. So the CLI prints such text only through
 * `shown()`: C0/C1 controls, DEL, format characters (Cf: bidi embeddings and
 * isolates, zero-width joiners, LRM/RLM, BOM), line/paragraph separators and
 * lone surrogates become visible `\u{…}` escapes. A backslash is escaped too,
 * so an author cannot spell a fake escape that reads like a real one.
 */
const UNSAFE = /[\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

export function shown(text: unknown): string {
  return String(text).replace(UNSAFE, (c) => (c === "\\" ? "\\\\" : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

/** JSON for a terminal: JSON.stringify escapes C0 controls only; DEL, C1 and format characters become \uXXXX too (still valid JSON). */
export function shownJson(value: unknown): string {
  // Raw "\n" in the output is only the indentation's (JSON.stringify escapes it inside strings).
  return JSON.stringify(value, null, 2).replace(/(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}`);
}
