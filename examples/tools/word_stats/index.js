// word_stats: pure compute, no capabilities. Runs in a V8 isolate: no Node built-ins, no network.

/**
 * @param {{ text: string, top?: number }} input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(input, ctx) {
  const text = input.text;
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const counts = new Map();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  const topWords = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, input.top ?? 5)
    .map(([word, count]) => ({ word, count }));
  ctx.log("debug", `counted ${words.length} words`);
  return {
    words: words.length,
    characters: [...text].length,
    lines: text === "" ? 0 : text.split(/\r\n|\r|\n/).length,
    topWords,
  };
}
