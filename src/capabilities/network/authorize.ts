import { lookup } from "node:dns/promises";
import type { WardenError, ErrorPayload } from "../../errors.js";
import type { NetworkGrant } from "../types.js";
import { refusedAddressReason } from "./address-policy.js";
import { canonicalTarget, matchGrant, type EgressTarget } from "./allowlist.js";
import { deny, notInAllowlist, refusedAddress } from "./denials.js";

export type EgressDecision =
  | { ok: true; grant: NetworkGrant; addresses: string[] }
  /** `denied` (short reason for the audit record) is set when policy refused; absent for e.g. a DNS failure. */
  | { ok: false; error: ErrorPayload; denied?: string };

/** Resolves a name to every A/AAAA address (tests inject a fake to avoid DNS). */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) => {
  // getaddrinfo, like every other client on this host (honours /etc/hosts, so
  // "localhost" is judged by what it really resolves to).
  const found = await lookup(host, { all: true, order: "verbatim" });
  return [...new Set(found.map((a) => a.address))];
};

/**
 * Allowlist match (scheme, host, port), then one DNS resolution, then the
 * address policy on EVERY resolved address: a name with one public and one
 * private address is refused, since the connection could land on either.
 * The caller must connect only to `addresses` (pinning), so the name cannot
 * be re-resolved to something else between check and connect (DNS rebinding).
 */
export async function authorizeEgress(tool: string, grants: NetworkGrant[], target: EgressTarget): Promise<EgressDecision> {
  return decideEgress(tool, grants, target, systemResolver);
}

export async function decideEgress(tool: string, grants: readonly NetworkGrant[], target: EgressTarget, resolve: Resolver): Promise<EgressDecision> {
  const canonical = canonicalTarget(target);
  if (!canonical) return refusal(deny(`network: ${JSON.stringify(String(target.host).slice(0, 100))} is not a valid host for ${tool}`, "invalid host"));
  const match = matchGrant(grants, canonical);
  if (!match.ok) return refusal(notInAllowlist(tool, canonical, match));

  let addresses: string[];
  try {
    addresses = canonical.ip !== null ? [canonical.ip] : await resolve(canonical.host);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return failure(`network: could not resolve ${canonical.host} (${typeof code === "string" ? code : "lookup failed"})`);
  }
  if (addresses.length === 0) return failure(`network: ${canonical.host} has no address`);
  if (!match.grant.allowPrivate) {
    const refused = firstRefused(addresses);
    if (refused) return refusal(refusedAddress(tool, canonical, match.pattern, refused.address, refused.reason));
  }
  return { ok: true, grant: match.grant, addresses };
}

function firstRefused(addresses: readonly string[]): { address: string; reason: string } | null {
  for (const address of addresses) {
    const reason = refusedAddressReason(address);
    if (reason) return { address, reason };
  }
  return null;
}

function refusal(d: { error: WardenError; denied: string }): EgressDecision {
  return { ok: false, error: d.error.toPayload(), denied: d.denied };
}

function failure(message: string): EgressDecision {
  return { ok: false, error: { code: "E_TOOL_FAILED", message } };
}
