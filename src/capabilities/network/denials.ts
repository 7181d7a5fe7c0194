import { WardenError } from "../../errors.js";
import type { AllowlistMatch, CanonicalTarget } from "./allowlist.js";
import type { NetworkPattern } from "./pattern.js";

/**
 * Denial messages (SPEC §9): what was refused, why, and the exact change that
 * would allow it. They name hosts, ports and addresses only — never a URL
 * path or query, which may carry a secret.
 */
export interface Denial {
  error: WardenError;
  /** Short reason for the audit record's `denied` field. */
  denied: string;
}

export function displayHost(target: Pick<CanonicalTarget, "host" | "ip">): string {
  return target.ip?.includes(":") ? `[${target.host}]` : target.host;
}

const REGRANT = "add it to the manifest and the operator's grant, then re-approve";

export function notInAllowlist(tool: string, target: CanonicalTarget, match: Extract<AllowlistMatch, { ok: false }>): Denial {
  const host = displayHost(target);
  if (match.reason === "port") {
    const ports = [...new Set(match.granted.filter((p) => p.scheme === target.scheme).map((p) => p.port))].join(", ");
    return deny(
      `network: port ${target.port} is not granted for ${host} to ${tool} (granted: ${ports}); to allow it, add "${target.scheme}://${host}:${target.port}" — ${REGRANT}`,
      `port ${target.port} not granted`,
    );
  }
  if (match.reason === "scheme") {
    const schemes = [...new Set(match.granted.map((p) => p.scheme))].join(", ");
    return deny(
      `network: ${target.scheme}:// is not granted for ${host} to ${tool} (granted: ${schemes} only); to allow it, add "${target.scheme}://${host}${portSuffix(target)}" — ${REGRANT}`,
      `scheme ${target.scheme} not granted`,
    );
  }
  const literal = target.ip !== null ? " (an IP address matches only an IP-literal pattern for that exact address)" : "";
  return deny(`network: host ${host} is not in the allowlist of ${tool}${literal}; ${REGRANT}`, "host not in allowlist");
}

export function refusedAddress(tool: string, target: CanonicalTarget, pattern: NetworkPattern, address: string, reason: string): Denial {
  const host = displayHost(target);
  const what = target.ip !== null ? `${host} is ${reason}` : `${host} resolved to ${address} (${reason})`;
  return deny(
    `network: ${what}, which is refused; the operator can allow it with {"host": ${JSON.stringify(pattern.text)}, "allowPrivate": true} in grants.${tool}.network`,
    `${address} is ${reason}`,
  );
}

export function deny(message: string, denied: string): Denial {
  return { error: new WardenError("E_CAPABILITY_DENIED", message), denied };
}

function portSuffix(target: CanonicalTarget): string {
  return target.port === (target.scheme === "https" ? 443 : 80) ? "" : `:${target.port}`;
}
