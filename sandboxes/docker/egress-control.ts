/**
 * The control channel between warden and its egress proxy container (issue 13 §2): JSON lines over the
 * container's attached stdio, through the Docker API, so it works on a remote engine with no network path
 * back to warden. stdin carries warden's `bind`/`unbind`; stdout carries the proxy's `ready`, acks and the
 * egress records. Records and acks travel IN ORDER on one stream, so once warden has read `unbound {seq}`
 * every record of that binding has been read before it: a call's audit record is complete when its
 * `execute` resolves. Plain data only (grants are NetworkGrant[]): nothing here imports Docker or zod, the
 * proxy container loads this file.
 */
import type { EgressRecord, NetworkGrant } from "../../src/capabilities/types.js";

/** The proxy's port inside its own network namespace (no host port is published). */
export const EGRESS_PROXY_PORT = 3128;

/** warden → proxy. `seq` numbers each command; the proxy acks it after acting on it. */
export type ControlCommand =
  | { op: "bind"; seq: number; ip: string; callId: string; tool: string; grants: NetworkGrant[] }
  | { op: "unbind"; seq: number; ip: string }
  /** A barrier: acked after every record written before it (a hosted server's call ends while it stays bound). */
  | { op: "sync"; seq: number };

/** A command before the channel numbers it. */
export type UnsequencedCommand = ControlCommand extends infer C ? (C extends ControlCommand ? Omit<C, "seq"> : never) : never;

/** proxy → warden. */
export type ControlEvent =
  | { op: "ready"; address: string; port: number; refused: string[] }
  | { op: "bound"; seq: number }
  | { op: "unbound"; seq: number }
  | { op: "synced"; seq: number }
  | { op: "egress"; ip: string; callId: string; record: EgressRecord };
