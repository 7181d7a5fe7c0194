import type { VolumeMount } from "../../sandboxes/executor.js";

/** One network grant after manifest ∩ operator grant. */
export interface NetworkGrant {
  /** `[scheme://]host[:port]` as in SPEC §2. */
  pattern: string;
  /** Operator allowed this host to resolve to private/loopback addresses. Never implied. */
  allowPrivate: boolean;
}

export interface VolumeGrant extends VolumeMount {
  /** Quota for the whole volume directory, from config; undefined = no quota. */
  maxBytes?: number;
}

/** What one tool may actually use: manifest ∩ grant, computed once at load. */
export interface EffectiveCapabilities {
  network: NetworkGrant[];
  filesystem: VolumeGrant[];
  /** Names of secrets the tool receives. */
  env: string[];
}

/** One egress attempt, for the audit record (`egress`), refused ones too. */
export interface EgressRecord {
  host: string;
  port: number;
  method: string;
  status: number | null;
  /** Bytes received from the target. */
  bytes: number;
  /** Bytes sent to the target (request bodies, tunnel uploads); set where counted. */
  bytesSent?: number;
  /** The address actually connected to (the host is the canonical spelling); set where known. */
  address?: string;
  denied?: string;
}

/** One filesystem operation, for the audit record (`files`). */
export interface FileRecord {
  volume: string;
  path: string;
  op: string;
  denied?: string;
}
