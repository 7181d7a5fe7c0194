import { readFileSync } from "node:fs";
import type { Socket } from "node:net";

/**
 * Bounds the sockets one peer (and all peers) can hold (#18.3). 1,010 slow
 * connections without a token once used every file descriptor of the
 * process: legitimate clients got ECONNRESET and the audit spool hit EMFILE.
 * Past a cap the oldest connection that never authenticated is closed first,
 * then the oldest idle keep-alive one; only when every connection is busy
 * serving an authenticated request is the new one refused.
 */
export interface ConnectionLimits {
  maxTotal: number;
  maxPerAddress: number;
}

interface Tracked {
  address: string;
  authenticated: boolean;
  busy: number;
  since: number;
}

/** Half of the process's descriptors at most (the rest: audit, journal, workers, Docker), within sane bounds. */
export function defaultConnectionLimits(fdLimit = openFileLimit()): ConnectionLimits {
  const maxTotal = Math.max(32, Math.min(4096, Math.floor(fdLimit / 2)));
  return { maxTotal, maxPerAddress: Math.max(16, Math.min(maxTotal, Math.max(64, Math.floor(maxTotal / 4)))) };
}

function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: fall through to a conservative default
  }
  return 1024;
}

export class ConnectionGuard {
  private readonly sockets = new Map<Socket, Tracked>();
  private seq = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  get size(): number {
    return this.sockets.size;
  }

  /** Called for every accepted socket; false ⇒ the new socket was closed. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? "?";
    const sameAddress = [...this.sockets].filter(([, t]) => t.address === address);
    if (sameAddress.length >= this.limits.maxPerAddress && !this.evictFrom(sameAddress)) return this.refuse(socket);
    if (this.sockets.size >= this.limits.maxTotal && !this.evictFrom([...this.sockets])) return this.refuse(socket);
    this.sockets.set(socket, { address, authenticated: false, busy: 0, since: this.seq++ });
    socket.once("close", () => this.sockets.delete(socket));
    return true;
  }

  /** A request on this socket carried a valid token. */
  authenticated(socket: Socket): void {
    const t = this.sockets.get(socket);
    if (t) t.authenticated = true;
  }

  /** A request started on this socket; the returned function marks it finished. */
  busy(socket: Socket): () => void {
    const t = this.sockets.get(socket);
    if (!t) return () => {};
    t.busy++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      t.busy--;
    };
  }

  private evictFrom(candidates: Array<[Socket, Tracked]>): boolean {
    const oldest = (list: Array<[Socket, Tracked]>) => list.sort((a, b) => a[1].since - b[1].since)[0];
    const victim = oldest(candidates.filter(([, t]) => !t.authenticated)) ?? oldest(candidates.filter(([, t]) => t.busy === 0));
    if (!victim) return false;
    this.sockets.delete(victim[0]);
    victim[0].destroy();
    return true;
  }

  private refuse(socket: Socket): false {
    socket.destroy();
    return false;
  }
}
