import type { Broker } from "../broker/index.js";
import type { Allow } from "../broker/scope.js";

/** Who a session acts for: the audited actor and where its scope is read from. */
export interface Identity {
  actor: string;
  /** Re-read at every list and every check of every call: the live config decides, not the one at connect time. */
  allow: () => Allow;
}

/**
 * An HTTP token's scope as the live config says now. A token removed from the
 * config (revoked) has no scope at all: calls already waiting (for a human,
 * for a slot) are refused at their next check instead of running.
 */
export function tokenIdentity(broker: Broker, actor: string, tokenSha256: string): Identity {
  return {
    actor,
    allow: (): Allow => {
      const token = broker.currentConfig.http.tokens.find((t) => t.sha256 === tokenSha256);
      return token ? token.allow : [];
    },
  };
}

/** The stdio actor's scope: `stdio.allow` from the live config (#19.12), like a token's. */
export function stdioIdentity(broker: Broker): Identity {
  return { actor: "stdio", allow: () => broker.currentConfig.stdio.allow };
}
