import { isIPv4 } from "node:net";
import ipaddr from "ipaddr.js";
import { WardenError } from "../../errors.js";

/**
 * One entry of `capabilities.network.allow` / `grants.<tool>.network` (SPEC §2).
 * - `host`: lower-case DNS name without trailing dot; for a wildcard the suffix
 *   after `*.` (`*.example.org` → `example.org`); for an IP literal the address
 *   as WHATWG URL serialises it (IPv6 without brackets).
 * - `ip`: the address for an IP-literal pattern, else null.
 * - `text`: the pattern as written (re-parseable; used in messages).
 */
export interface NetworkPattern {
  scheme: "https" | "http";
  host: string;
  wildcard: boolean;
  ip: string | null;
  port: number;
  text: string;
}

export const DEFAULT_PORTS = { https: 443, http: 80 } as const;

const SCHEME_PREFIX = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const DNS_LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
const CANONICAL_IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// WHATWG URL treats a host whose last label is a number (decimal, or 0x-hex) as an
// IPv4 address in some spelling; such a "name" is never a DNS name.
const ENDS_IN_NUMBER = /(^|\.)(\d+|0x[0-9a-f]*)$/;

/** Parses `[scheme://]host[:port]`; anything ambiguous is refused (fail closed). */
export function parseNetworkPattern(text: string): NetworkPattern {
  const fail = (why: string, fix: string): never => {
    throw new WardenError("E_MANIFEST", `network pattern ${JSON.stringify(String(text).slice(0, 120))}: ${why}; ${fix}`);
  };
  if (typeof text !== "string" || text.length === 0) fail("empty pattern", 'write a host such as "api.example.com"');
  if (text.length > 300) fail("longer than 300 characters", "write just [scheme://]host[:port]");
  if (/[\s\x00-\x1f\x7f]/.test(text)) fail("contains whitespace or control characters", "remove them");
  if (/[^\x21-\x7e]/.test(text))
    fail("contains non-ASCII characters", `write an international name in its ASCII form (${asciiHint(text)})`);

  let scheme: "https" | "http" = "https";
  let rest = text;
  const prefix = SCHEME_PREFIX.exec(text);
  if (prefix) {
    const written = prefix[1]!.toLowerCase();
    if (written !== "https" && written !== "http") fail(`scheme "${written}" is not allowed`, 'use "https://" (the default) or "http://"');
    scheme = written as "https" | "http";
    rest = text.slice(prefix[0].length);
  } else if (text.includes("://") || /^[a-z]+:\//i.test(text)) {
    fail("malformed scheme", 'write "https://host" or "http://host", or just "host"');
  }
  refuseExtras(rest, fail);

  const { hostPart, portPart, bracketed } = splitHostPort(rest, fail);
  const port = portPart === undefined ? DEFAULT_PORTS[scheme] : parsePort(portPart, fail);
  const host = bracketed ? parseIPv6Host(hostPart, fail) : parseHost(hostPart, fail);
  return { scheme, port, text, ...host };
}

type Fail = (why: string, fix: string) => never;

// Paths, queries, userinfo and CIDR are not part of the pattern language: a
// reader could believe `example.com/api` limits the path when it does not.
function refuseExtras(rest: string, fail: Fail): void {
  if (rest.includes("/")) fail("paths and CIDR ranges are not supported", "write only the host (and port); access is granted per host");
  if (/[?#]/.test(rest)) fail("queries and fragments are not supported", "write only the host (and port)");
  if (rest.includes("@")) fail("userinfo (user@host) is not supported", "write only the host; credentials belong in a secret");
  if (/[\\%]/.test(rest)) fail("backslashes and percent-escapes are not allowed", "write the host plainly");
}

function splitHostPort(rest: string, fail: Fail): { hostPart: string; portPart: string | undefined; bracketed: boolean } {
  if (rest.startsWith("[")) {
    const close = rest.indexOf("]");
    if (close < 0) fail("unclosed [ in an IPv6 literal", "write it as [2001:db8::1]");
    const after = rest.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) fail("unexpected text after the IPv6 literal", "write [address] or [address]:port");
    return { hostPart: rest.slice(1, close), portPart: after === "" ? undefined : after.slice(1), bracketed: true };
  }
  const colons = rest.split(":").length - 1;
  if (colons > 1) fail("an IPv6 address must be written in brackets", "write it as [2001:db8::1] or [2001:db8::1]:8443");
  const [hostPart, portPart] = rest.split(":") as [string, string | undefined];
  return { hostPart, portPart, bracketed: false };
}

function parsePort(portPart: string, fail: Fail): number {
  const port = /^[1-9]\d{0,4}$/.test(portPart) ? Number(portPart) : NaN;
  if (!(port >= 1 && port <= 65535)) fail(`port "${portPart}" is not a number from 1 to 65535 (without leading zeros)`, "write e.g. :8443");
  return port;
}

function parseIPv6Host(hostPart: string, fail: Fail): Pick<NetworkPattern, "host" | "wildcard" | "ip"> {
  if (hostPart.includes("%") || !ipaddr.IPv6.isValid(hostPart)) fail(`"[${hostPart}]" is not an IPv6 address (zone ids are not allowed)`, "write e.g. [2001:db8::1]");
  // Serialise exactly as WHATWG URL does, so a target URL compares equal.
  const ip = new URL(`http://[${hostPart}]/`).hostname.slice(1, -1);
  return { host: ip, wildcard: false, ip };
}

function parseHost(hostPart: string, fail: Fail): Pick<NetworkPattern, "host" | "wildcard" | "ip"> {
  let host = hostPart.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host === "") fail("no host", 'write a host such as "api.example.com"');
  if (host === "*") fail("* alone would allow every host", "list the hosts the tool needs, or *.example.com for one domain's subdomains");
  if (host.includes("*")) {
    if (!host.startsWith("*.") || host.indexOf("*", 1) >= 0)
      fail("a wildcard may only be the whole leftmost label", "write e.g. *.example.com (it matches subdomains only)");
    const suffix = checkDnsName(host.slice(2), fail);
    if (!suffix.includes("."))
      fail(`*.${suffix} would match a whole top-level domain`, `name a registered domain, e.g. *.example.${suffix}`);
    return { host: suffix, wildcard: true, ip: null };
  }
  if (ENDS_IN_NUMBER.test(host)) {
    // An IPv4 literal: only the canonical dotted-decimal spelling, so that a
    // reviewer reading the manifest sees the address that will be connected to.
    if (!CANONICAL_IPV4.test(host) || !isIPv4(host)) fail(`"${hostPart}" is an ambiguous IPv4 spelling`, `write it as ${canonicalIPv4Hint(host)}`);
    return { host, wildcard: false, ip: host };
  }
  return { host: checkDnsName(host, fail), wildcard: false, ip: null };
}

function checkDnsName(name: string, fail: Fail): string {
  if (name.length > 253) fail("host name longer than 253 characters", "shorten it");
  for (const label of name.split(".")) {
    if (!DNS_LABEL.test(label)) fail(`"${name}" is not a valid DNS name`, "use letters, digits, '-' and '_' in labels of 1-63 characters");
  }
  if (ENDS_IN_NUMBER.test(name)) fail(`"${name}" ends in a number, which URLs read as an IPv4 address`, "write a DNS name or a dotted-decimal address");
  // Belt and braces: the name must survive WHATWG host parsing unchanged
  // (catches malformed punycode such as "xn--").
  let parsed: string | null = null;
  try {
    parsed = new URL(`http://${name}/`).hostname;
  } catch {
    parsed = null;
  }
  if (parsed !== name) fail(`"${name}" is not a valid host name`, "write the name as a browser would show it, in ASCII");
  return name;
}

function canonicalIPv4Hint(host: string): string {
  try {
    const normalised = new URL(`http://${host}/`).hostname;
    if (isIPv4(normalised)) return normalised;
  } catch {
    // fall through to the generic hint: the text is not an address in any spelling
  }
  return "four decimal numbers, e.g. 192.0.2.10";
}

function asciiHint(text: string): string {
  try {
    return `e.g. ${new URL(`http://${text.replace(/^[a-z]+:\/\//i, "")}/`).hostname}`;
  } catch {
    return "punycode, xn--…";
  }
}
