/**
 * Text a human reads before allowing a call (the confirmation prompt). A
 * right-to-left override in an argument ("report-2026.txt\u202Etxt.exe")
 * makes a terminal or chat client show a different file name than the one the
 * tool will get (#18.11): every invisible or reordering character is shown as
 * its escape, so the human sees what will run.
 *
 * Escaped: format characters (Unicode Cf: bidi embeddings, overrides and
 * isolates U+202A–U+202E, U+2066–U+2069, U+200E/F, zero-width U+200B–U+200D,
 * U+2060–U+2064, U+FEFF, tags …), controls other than \n and \t, the line and
 * paragraph separators, and lone surrogates.
 */
const HIDDEN = /[\p{Cf}\p{Cc}\u2028\u2029]|\p{Cs}/gu;

export function escapeForHuman(text: string): string {
  return text.replace(HIDDEN, (c) => {
    if (c === "\n" || c === "\t") return c;
    const cp = c.codePointAt(0)!;
    const hex = cp.toString(16).toUpperCase();
    return cp > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, "0")}`;
  });
}
