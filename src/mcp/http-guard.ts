import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Config } from "../config/schema.js";

export interface TokenIdentity {
  actor: string;
  allow?: readonly string[] | undefined;
  /** The token's stored digest: sessions bind to it, not to the (operator-chosen) name. */
  tokenSha256: string;
}

/** Bearer token → identity. Tokens are stored as sha256 in config; compared in constant time. */
export function authenticate(req: IncomingMessage, tokens: Config["http"]["tokens"]): TokenIdentity | null {
  const header = req.headers.authorization;
  if (typeof header !== "string") return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return null;
  const digest = createHash("sha256").update(match[1]!).digest();
  for (const token of tokens) {
    const expected = Buffer.from(token.sha256, "hex");
    if (expected.length === digest.length && timingSafeEqual(expected, digest)) return { actor: token.name, allow: token.allow, tokenSha256: token.sha256 };
  }
  return null;
}

/**
 * DNS rebinding: a browser page on evil.example that rebinds its name to
 * 127.0.0.1 still sends `Host: evil.example`, so only the names this server is
 * really reached by are accepted.
 */
export function allowedHostHeaders(listenHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const hosts = new Set<string>(extra.map((h) => h.toLowerCase()));
  const names = new Set([listenHost.toLowerCase()]);
  if (["127.0.0.1", "localhost", "[::1]", "::1", "0.0.0.0", "[::]"].includes(listenHost)) {
    for (const n of ["127.0.0.1", "localhost", "[::1]"]) names.add(n);
  }
  for (const n of names) {
    hosts.add(`${n}:${port}`);
  }
  return hosts;
}

export function hostAllowed(req: IncomingMessage, allowed: Set<string>): boolean {
  const host = req.headers.host;
  return typeof host === "string" && allowed.has(host.toLowerCase());
}

/** Cross-origin browser requests are refused unless the operator listed the origin. No Origin (non-browser) is fine. */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return allowedOrigins.includes(origin);
}
