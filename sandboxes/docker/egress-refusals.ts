/**
 * Addresses the egress proxy refuses ALWAYS, with or without `allowPrivate`: the engine's host and warden's
 * own egress networks. The proxy container is not on warden's host, so `address-policy.ts`'s "this host's
 * own address" (read from warden's interfaces) does not name the engine host: a grant with
 * `allowPrivate: true` for a private range would otherwise let a tool reach services the engine host binds
 * on its bridge gateways, or other tool containers on the tool network. The list is what the container
 * reads at start (its interfaces, its routes' gateways) plus what warden passes (both networks' gateways,
 * the tool subnet) plus the operator's `container.egress.refuse` (e.g. a remote engine host's public
 * addresses, which nothing inside the container can see).
 *
 * It wraps `authorizeEgress` (the rule ctx.fetch uses); it never replaces it.
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { WardenError } from "../../src/errors.js";
import type { AuthorizeEgress } from "./egress-proxy.js";

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses addresses and CIDRs; anything else throws (a typo must not silently refuse nothing). */
export function parseRefused(list: readonly string[]): Range[] {
  return list.map((entry) => {
    const text = entry.trim();
    try {
      if (text.includes("/")) return ipaddr.parseCIDR(text);
      const addr = ipaddr.parse(text.replace(/%.*$/, ""));
      return [addr, addr.kind() === "ipv4" ? 32 : 128] as Range;
    } catch {
      throw new WardenError("E_CONFIG", `egress: ${JSON.stringify(entry)} is not an IP address or CIDR`);
    }
  });
}

/** The refused range `address` falls in (IPv4-mapped IPv6 judged as its IPv4), or null. */
export function refusedRange(address: string, ranges: readonly Range[]): string | null {
  if (!isIP(address.replace(/%.*$/, ""))) return "not an IP address";
  let addr: ipaddr.IPv4 | ipaddr.IPv6 = ipaddr.parse(address.replace(/%.*$/, ""));
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address();
  for (const [base, bits] of ranges) {
    if (base.kind() !== addr.kind()) continue;
    if (addr.match(base, bits)) return `${base.toString()}/${bits}`;
  }
  return null;
}

/** `authorize`, then: refused when ANY checked address is the engine host's or an egress network's. */
export function withRefusedAddresses(authorize: AuthorizeEgress, refused: readonly string[]): AuthorizeEgress {
  const ranges = parseRefused(refused);
  if (ranges.length === 0) return authorize;
  return async (tool, grants, target) => {
    const decision = await authorize(tool, grants, target);
    if (!decision.ok) return decision;
    for (const address of decision.addresses) {
      const range = refusedRange(address, ranges);
      if (!range) continue;
      const message =
        `network: ${target.host} resolved to ${address}, an address of the container engine's host or of warden's egress networks (${range}); ` +
        "it is refused for every tool, also with allowPrivate";
      return { ok: false, error: new WardenError("E_CAPABILITY_DENIED", message).toPayload(), denied: `${address} is the engine host or an egress network` };
    }
    return decision;
  };
}
