import { isIP } from "node:net";
import type { NetworkGrant } from "../types.js";
import { parseNetworkPattern, type NetworkPattern } from "./pattern.js";

export interface EgressTarget {
  scheme: "https" | "http";
  host: string;
  port: number;
}

/** A target after WHATWG host parsing: every IPv4 spelling is dotted decimal, names are lower-case without trailing dot. */
export interface CanonicalTarget {
  scheme: "https" | "http";
  /** DNS name, or the address for an IP literal (IPv6 without brackets). */
  host: string;
  ip: string | null;
  port: number;
}

export type AllowlistMatch =
  | { ok: true; grant: NetworkGrant; pattern: NetworkPattern }
  | { ok: false; reason: "scheme" | "port" | "host"; granted: NetworkPattern[] };

/**
 * Canonicalises a target host with the WHATWG URL host parser, the same one
 * ctx.fetch's URL went through, so `2852039166`, `0xA9FEA9FE` and
 * `0251.0376.0251.0376` all become 169.254.169.254 before anything compares
 * them. Returns null for anything that is not a plain host.
 */
export function canonicalTarget(target: EgressTarget): CanonicalTarget | null {
  if (target.scheme !== "https" && target.scheme !== "http") return null;
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) return null;
  const raw = String(target.host);
  // Anything URL syntax would read as path, userinfo or port is not a host.
  if (raw === "" || /[\s/\\?#@]/.test(raw)) return null;
  if (raw.includes(":") && isIP(raw) !== 6 && !/^\[[^\]]+\]$/.test(raw)) return null;
  const forUrl = isIP(raw) === 6 ? `[${raw}]` : raw;
  let hostname: string;
  try {
    const url = new URL(`${target.scheme}://${forUrl}/`);
    if (url.port !== "") return null; // "host:123" smuggled into the host field
    hostname = url.hostname;
  } catch {
    return null;
  }
  if (hostname.startsWith("[")) {
    const ip = hostname.slice(1, -1);
    return { scheme: target.scheme, host: ip, ip, port: target.port };
  }
  if (isIP(hostname) === 4) return { scheme: target.scheme, host: hostname, ip: hostname, port: target.port };
  const name = hostname.endsWith(".") ? hostname.slice(0, -1) : hostname;
  if (name === "" || name.endsWith(".")) return null;
  return { scheme: target.scheme, host: name, ip: null, port: target.port };
}

export function hostMatches(pattern: NetworkPattern, target: CanonicalTarget): boolean {
  // An IP literal matches only an IP-literal pattern for that exact address:
  // granting api.example.com must not grant whatever its IP is (or any IP).
  if (pattern.ip !== null || target.ip !== null) return pattern.ip !== null && pattern.ip === target.ip;
  // "*.example.org" matches a.example.org and a.b.example.org, never
  // example.org itself nor evil-example.org (the dot is part of the suffix).
  if (pattern.wildcard) return target.host.endsWith(`.${pattern.host}`);
  return target.host === pattern.host;
}

/**
 * The grant that allows `target`: scheme, port and host must all match. The
 * most specific pattern wins (exact host over wildcard, longer suffix over
 * shorter); on a tie, the grant without `allowPrivate` wins, so a broader
 * private grant never widens a narrower public one.
 */
export function matchGrant(grants: readonly NetworkGrant[], target: CanonicalTarget): AllowlistMatch {
  let best: { grant: NetworkGrant; pattern: NetworkPattern; rank: number } | null = null;
  const granted: NetworkPattern[] = [];
  for (const grant of grants) {
    const pattern = parseGrant(grant);
    if (!pattern) continue;
    granted.push(pattern);
    if (pattern.scheme !== target.scheme || pattern.port !== target.port || !hostMatches(pattern, target)) continue;
    const rank = pattern.wildcard ? pattern.host.length : Number.MAX_SAFE_INTEGER;
    const better = !best || rank > best.rank || (rank === best.rank && best.grant.allowPrivate && !grant.allowPrivate);
    if (better) best = { grant, pattern, rank };
  }
  if (best) return { ok: true, grant: best.grant, pattern: best.pattern };
  const sameHost = granted.filter((p) => hostMatches(p, target));
  const reason = sameHost.length === 0 ? "host" : sameHost.some((p) => p.scheme === target.scheme) ? "port" : "scheme";
  return { ok: false, reason, granted: sameHost };
}

function parseGrant(grant: NetworkGrant): NetworkPattern | null {
  try {
    return parseNetworkPattern(grant.pattern);
  } catch {
    // Grants are validated at config load; one that does not parse here can
    // only allow nothing (fail closed), never something.
    return null;
  }
}
