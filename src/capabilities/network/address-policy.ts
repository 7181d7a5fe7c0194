import { isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [cidr: [Address, number], reason: string];

const ranges = (table: [string, string][]): Range[] => table.map(([cidr, reason]) => [ipaddr.parseCIDR(cidr), reason]);

// First match wins. These are the targets a tool uses to reach what is not
// its to reach: the host itself, the operator's LAN, the cloud metadata
// service (169.254.169.254 hands out credentials), carrier NAT neighbours,
// and ranges that are never a legitimate public peer.
const IPV4_REFUSED = ranges([
  ["0.0.0.0/8", "unspecified"], // 0.0.0.0 connects to the local host on Linux
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "CGNAT"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local (cloud metadata)"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved (IETF protocol assignments)"],
  ["192.0.2.0/24", "reserved (documentation)"],
  ["192.88.99.0/24", "reserved (6to4 relay)"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "reserved (benchmarking)"],
  ["198.51.100.0/24", "reserved (documentation)"],
  ["203.0.113.0/24", "reserved (documentation)"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
]);

const IPV6_REFUSED = ranges([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["64:ff9b:1::/48", "private (local-use NAT64)"],
  ["100::/64", "reserved (discard)"],
  ["2001::/32", "reserved (Teredo tunnel)"], // embeds an obfuscated IPv4 peer
  ["2001:db8::/32", "reserved (documentation)"],
  ["2001::/23", "reserved (IETF protocol assignments)"],
  ["2002::/16", "reserved (6to4 tunnel)"], // embeds an IPv4 peer, possibly a private one
  ["3fff::/20", "reserved (documentation)"],
  ["fc00::/7", "unique-local"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "private (site-local)"],
  ["ff00::/8", "multicast"],
]);

const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR("2000::/3");
const NAT64 = ipaddr.parseCIDR("64:ff9b::/96");
const IPV4_COMPATIBLE = ipaddr.parseCIDR("::/96");

/**
 * Why a tool may not connect to `address`, or null for a public unicast
 * address. Unparseable input is refused (fail closed). IPv6 forms that carry
 * an IPv4 address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64
 * `64:ff9b::a.b.c.d`) are judged by the IPv4 address they reach, so
 * `[::ffff:169.254.169.254]` is no way around the metadata rule.
 */
export function refusedAddressReason(address: string): string | null {
  return addressRefusal(address, ownAddresses());
}

/** `refusedAddressReason` with the host's own addresses given (tests inject them). */
export function addressRefusal(address: string, own: ReadonlySet<string>): string | null {
  const parsed = parseAddress(address);
  if (!parsed) return "not an IP address";
  const reason = parsed.kind() === "ipv4" ? ipv4Reason(parsed as ipaddr.IPv4, own) : ipv6Reason(parsed as ipaddr.IPv6, own);
  if (reason) return reason;
  // A public address of one of our own interfaces is still the host itself:
  // services bound to 0.0.0.0 answer there as they do on loopback.
  return own.has(canonical(parsed)) ? "this host's own address" : null;
}

function ipv4Reason(addr: ipaddr.IPv4, own: ReadonlySet<string>): string | null {
  for (const [cidr, reason] of IPV4_REFUSED) if (addr.match(cidr)) return reason;
  return own.has(canonical(addr)) ? "this host's own address" : null;
}

function ipv6Reason(addr: ipaddr.IPv6, own: ReadonlySet<string>): string | null {
  const embedded = embeddedIPv4(addr);
  if (embedded) {
    const reason = ipv4Reason(embedded.v4, own);
    if (reason) return `${reason} via ${embedded.form} ${embedded.v4.toString()}`;
    // Deprecated IPv4-compatible addresses have no legitimate public use.
    return embedded.form === "IPv4-compatible" ? `reserved (IPv4-compatible ${embedded.v4.toString()})` : null;
  }
  for (const [cidr, reason] of IPV6_REFUSED) if (addr.match(cidr)) return reason;
  if (!addr.match(GLOBAL_UNICAST_V6)) return "reserved (not global unicast)";
  return null;
}

function embeddedIPv4(addr: ipaddr.IPv6): { form: string; v4: ipaddr.IPv4 } | null {
  const low32 = () => {
    const bytes = addr.toByteArray().slice(12);
    return new ipaddr.IPv4(bytes);
  };
  if (addr.isIPv4MappedAddress()) return { form: "IPv4-mapped", v4: addr.toIPv4Address() };
  if (addr.match(NAT64)) return { form: "NAT64", v4: low32() };
  const isUnspecifiedOrLoopback = addr.parts.slice(0, 7).every((p) => p === 0) && (addr.parts[7] ?? 0) <= 1;
  if (addr.match(IPV4_COMPATIBLE) && !isUnspecifiedOrLoopback) return { form: "IPv4-compatible", v4: low32() };
  return null;
}

function parseAddress(address: string): Address | null {
  if (typeof address !== "string") return null;
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIPv4(bare)) return ipaddr.IPv4.parse(bare);
  // Other spellings go through the WHATWG host parser, the one URLs and
  // targets went through, so both sides agree on what an address is. (ipaddr.js
  // alone reads "::8.8.8.8" as the mapped ::ffff:8.8.8.8; WHATWG, like the
  // kernel, reads it as the IPv4-compatible ::808:808.)
  try {
    const host = new URL(`http://${bare.includes(":") ? `[${bare}]` : bare}/`).hostname;
    if (host.startsWith("[")) return ipaddr.IPv6.parse(host.slice(1, -1));
    return isIPv4(host) ? ipaddr.IPv4.parse(host) : null;
  } catch {
    return null;
  }
}

function canonical(addr: Address): string {
  return addr.kind() === "ipv4" ? addr.toString() : (addr as ipaddr.IPv6).toNormalizedString();
}

// os.networkInterfaces() costs ~0.1-0.5 ms (more under gVisor) and would run
// twice per request; interfaces change rarely, so a few seconds of caching.
const OWN_ADDRESSES_TTL_MS = 5_000;
let ownCache: { at: number; set: Set<string> } | null = null;

/** The canonical addresses of this host's interfaces, re-read every few seconds (interfaces come and go). */
export function ownAddresses(): Set<string> {
  const now = Date.now();
  if (ownCache && now - ownCache.at < OWN_ADDRESSES_TTL_MS) return ownCache.set;
  ownCache = { at: now, set: readOwnAddresses() };
  return ownCache.set;
}

function readOwnAddresses(): Set<string> {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const entry of list ?? []) {
      const parsed = parseAddress(entry.address);
      if (parsed) own.add(canonical(parsed));
    }
  }
  return own;
}

/** Canonical text of an address for comparisons (pinned vs. connected), or null. */
export function canonicalAddress(address: string): string | null {
  const parsed = parseAddress(address);
  return parsed ? canonical(parsed) : null;
}
