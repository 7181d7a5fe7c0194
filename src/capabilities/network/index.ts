/**
 * Network capability (SPEC §2, §5): the allowlist pattern language, the
 * address policy, and the host side of ctx.fetch. The container egress proxy
 * calls `authorizeEgress` so both sandboxes share one set of rules.
 */
export { parseNetworkPattern, DEFAULT_PORTS, type NetworkPattern } from "./pattern.js";
export { refusedAddressReason } from "./address-policy.js";
export type { EgressTarget } from "./allowlist.js";
export { authorizeEgress, type EgressDecision } from "./authorize.js";
export { createEgressFetch, type EgressFetchOptions } from "./egress-fetch.js";
/** For the container egress proxy: a TCP connection to a checked address, verified after connect (scheme "http" = plain TCP). */
export { openPinnedConnection, type PinnedTarget } from "./pinned-connection.js";
export { canonicalTarget, type CanonicalTarget } from "./allowlist.js";
export { EgressRecordBound, boundedEgressRecord, EGRESS_RECORDS_MAX, EGRESS_HOST_MAX } from "./egress-bound.js";
