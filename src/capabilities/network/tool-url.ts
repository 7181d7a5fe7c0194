import { WardenError } from "../../errors.js";

/** ctx.fetch URLs: WHATWG-parsed, http(s) only, no credentials in the URL. */
export function parseToolUrl(raw: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw new WardenError("E_TOOL_FAILED", "fetch: the URL is not a valid absolute URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new WardenError("E_CAPABILITY_DENIED", `network: only http and https URLs can be fetched, not ${url.protocol.slice(0, 20)}`);
  if (url.username !== "" || url.password !== "")
    throw new WardenError("E_TOOL_FAILED", "fetch: credentials in the URL are not supported; send them in a header");
  return url;
}
