import { parseNetworkPattern } from "../capabilities/network/index.js";

/**
 * Syntax check of `capabilities.network.allow` entries at load time, with the
 * same parser the broker matches egress with (capabilities/network): a pattern
 * that loads is one the allowlist understands, and a typo is an author-facing
 * manifest problem instead of a silent never-match at call time.
 *
 * Returns null when the pattern parses, else "<problem>; fix: <how>".
 */
export function networkPatternProblem(pattern: string): string | null {
  try {
    parseNetworkPattern(pattern);
    return null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // The parser writes `network pattern "<text>": <why>; <fix>`; the JSON path already names the entry.
    const prefix = `network pattern ${JSON.stringify(pattern.slice(0, 120))}: `;
    const body = message.startsWith(prefix) ? message.slice(prefix.length) : message;
    const split = body.indexOf("; ");
    return split < 0 ? `${body}; fix: write [https://|http://]host[:port]` : `${body.slice(0, split)}; fix: ${body.slice(split + 2)}`;
  }
}
