// Helpers of text_summary, loaded through a relative import inside the tool folder.

const STOP_WORDS = new Set(["the", "a", "an", "and", "or", "of", "to", "in", "is", "it", "that", "on", "for", "with", "as", "was", "are", "be"]);

/** Splits text into trimmed sentences at ., ! or ? followed by whitespace (or the end). */
export function splitSentences(text) {
  return text
    .replace(/\s+/g, " ")
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Lower-case words without stop words. */
export function wordsOf(text) {
  return (text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? []).filter((w) => !STOP_WORDS.has(w));
}
