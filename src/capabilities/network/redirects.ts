import type { ErrorPayload } from "../../errors.js";
import { toWardenError } from "../../errors.js";
import type { ExchangeResult } from "./exchange.js";
import { parseToolUrl } from "./tool-url.js";
import type { PreparedRequest } from "./request-policy.js";

type Hop = { url: URL; request: PreparedRequest };

// Headers describing a body that a 301/302/303 turns into a GET without one.
const BODY_HEADERS = ["content-type", "content-encoding", "content-language", "content-location"];
// Credentials meant for one origin must not be replayed to another, even an
// allowed one (the WHATWG fetch rule): a redirect is chosen by the server.
const ORIGIN_CREDENTIALS = ["authorization", "cookie"];

/**
 * The next hop of a redirect, following WHATWG fetch: 303 (and 301/302 of a
 * POST) become a GET without body; 307/308 keep method and body. The new URL
 * goes through the same URL rules as the tool's own URL; the caller then runs
 * the complete check on it. null = not a redirect we follow.
 */
export function nextHop(hop: Hop, response: ExchangeResult): Hop | { error: ErrorPayload; location: string } | null {
  if (!isFollowedRedirect(response.status, response.headers)) return null;
  let url: URL;
  try {
    url = parseToolUrl(new URL(response.headers.location!, hop.url).href);
  } catch (err) {
    const e = toWardenError(err);
    return { error: { code: e.code, message: `${e.message} (redirect from ${hop.url.host})` }, location: response.headers.location! };
  }
  const headers = { ...hop.request.headers };
  let { method, body } = hop.request;
  const toGet = response.status === 303 ? method !== "HEAD" : (response.status === 301 || response.status === 302) && method === "POST";
  if (toGet) {
    method = "GET";
    body = null;
    for (const name of BODY_HEADERS) delete headers[name];
  }
  if (url.origin !== hop.url.origin) for (const name of ORIGIN_CREDENTIALS) delete headers[name];
  return { url, request: { method, headers, body } };
}

export function isFollowedRedirect(status: number, headers: Record<string, string>): boolean {
  return [301, 302, 303, 307, 308].includes(status) && typeof headers.location === "string" && headers.location !== "";
}
