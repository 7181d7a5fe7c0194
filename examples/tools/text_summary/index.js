// text_summary: an extractive summary. Imports a relative helper module — the only
// kind of import an isolate tool may make.
import { splitSentences, wordsOf } from "./lib/sentences.js";

/**
 * @param {{ text: string, maxSentences?: number }} input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(input, ctx) {
  const sentences = splitSentences(input.text);
  const max = input.maxSentences ?? 3;
  if (sentences.length <= max) return { summary: sentences.join(" "), sentences: sentences.length };

  // Score each sentence by how frequent its words are in the whole text.
  const frequency = new Map();
  for (const word of wordsOf(input.text)) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const scored = sentences.map((sentence, index) => {
    const words = wordsOf(sentence);
    const score = words.reduce((sum, w) => sum + (frequency.get(w) ?? 0), 0) / Math.max(words.length, 1);
    return { sentence, index, score };
  });
  const chosen = scored
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, max)
    .sort((a, b) => a.index - b.index);
  ctx.log("info", `picked ${chosen.length} of ${sentences.length} sentences`);
  return { summary: chosen.map((c) => c.sentence).join(" "), sentences: sentences.length };
}
