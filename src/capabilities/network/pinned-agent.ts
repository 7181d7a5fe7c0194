import { Agent, type AgentOptions, type ClientRequestArgs } from "node:http";
import type { Duplex } from "node:stream";
import { WardenError } from "../../errors.js";
import { openPinnedConnection, type PinnedTarget } from "./pinned-connection.js";

/** What a request tells the agent: the checked target and the call's abort signal. */
export interface PinnedRequestOptions {
  pinned: PinnedTarget;
  pinnedSignal: AbortSignal;
}

type Args = ClientRequestArgs & Partial<PinnedRequestOptions>;

/**
 * A keep-alive agent whose every socket comes from openPinnedConnection. One
 * agent per createEgressFetch (one tool call), never shared across tools.
 * A socket is reused only for the same scheme, host, port, allowPrivate and
 * the same set of checked addresses — i.e. exactly when a new connection
 * would have been allowed to the address it is already connected to.
 * Connections are bounded (a tool cannot open thousands of sockets) and idle
 * ones are closed after a short while.
 */
export class PinnedAgent extends Agent {
  constructor() {
    super({ keepAlive: true, maxSockets: 8, maxTotalSockets: 16, maxFreeSockets: 8, timeout: 2_000, scheduling: "lifo" } satisfies AgentOptions);
  }

  override getName(options?: Args): string {
    const p = options?.pinned;
    if (!p) return "unpinned"; // never used: every request passes `pinned`
    return [p.scheme, p.host, p.port, p.allowPrivate ? "private" : "public", [...p.addresses].sort().join(",")].join("|");
  }

  override createConnection(options: Args, callback?: (err: Error | null, socket: Duplex) => void): Duplex | null | undefined {
    const { pinned, pinnedSignal } = options;
    if (!pinned || !pinnedSignal || !callback) throw new WardenError("E_TOOL_FAILED", "network: internal error: a request without a checked target");
    openPinnedConnection(pinned, pinnedSignal).then(
      (socket) => callback(null, socket),
      (err: Error) => callback(err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}
