import { connect as tcpConnect, isIP, type LookupFunction, type Socket } from "node:net";
import { connect as tlsConnect, rootCertificates } from "node:tls";
import { WardenError } from "../../errors.js";
import { Aborted } from "./abort.js";
import { canonicalAddress, refusedAddressReason } from "./address-policy.js";

export interface PinnedTarget {
  scheme: "https" | "http";
  /** Canonical host: DNS name, or the address of an IP literal (IPv6 without brackets). */
  host: string;
  ip: string | null;
  port: number;
  /** The addresses authorizeEgress checked; the only ones we may end up connected to. */
  addresses: readonly string[];
  allowPrivate: boolean;
  /** Extra trusted CA certificates (PEM), added to Node's root store. */
  extraCa?: readonly (string | Buffer)[];
}

/**
 * Opens a TCP (and TLS) connection to one of the checked addresses. Two
 * locks, because either alone has a gap:
 * 1. the socket's `lookup` answers only the checked addresses, so Node never
 *    re-resolves the name (a rebinding DNS server gets no second question);
 * 2. after connect and before a single byte is sent, `remoteAddress` must be
 *    one of the checked addresses and pass the address policy — an IP
 *    literal never goes through `lookup` at all.
 * TLS uses the original host name for SNI and certificate verification.
 */
export function openPinnedConnection(target: PinnedTarget, signal: AbortSignal): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    if (signal.aborted) return reject(new Aborted());
    const sockets: Socket[] = [];
    // After hand-off, a late error only tears the sockets down; the HTTP
    // exchange that owns them by then reports it.
    const fail = (err: unknown) => {
      signal.removeEventListener("abort", onAbort);
      for (const s of sockets) s.destroy();
      reject(err);
    };
    const onAbort = () => fail(new Aborted());
    signal.addEventListener("abort", onAbort, { once: true });

    const tcp = tcpConnect({ host: target.ip ?? target.host, port: target.port, lookup: pinnedLookup(target.addresses), noDelay: true });
    sockets.push(tcp);
    tcp.once("error", (err) => fail(connectError(target, err)));
    tcp.once("connect", () => {
      const problem = remoteProblem(target, tcp.remoteAddress);
      if (problem) return fail(problem);
      if (target.scheme === "http") return done(tcp);
      const secure = tlsConnect({
        socket: tcp,
        host: target.host,
        ...(target.ip === null ? { servername: target.host } : {}),
        ...(target.extraCa?.length ? { ca: [...rootCertificates, ...target.extraCa] } : {}),
        ALPNProtocols: ["http/1.1"],
      });
      sockets.push(secure);
      secure.once("error", (err) => fail(tlsError(target, err)));
      secure.once("secureConnect", () => done(secure));
    });

    function done(socket: Socket) {
      signal.removeEventListener("abort", onAbort);
      resolve(socket);
    }
  });
}

function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const entries = addresses.map((address) => ({ address, family: isIP(address) }));
  return (_hostname, options, callback) => {
    if (options.all) return (callback as (err: null, all: typeof entries) => void)(null, entries);
    const first = entries[0]!;
    callback(null, first.address, first.family);
  };
}

function remoteProblem(target: PinnedTarget, remote: string | undefined): WardenError | null {
  const connected = remote ? canonicalAddress(remote) : null;
  const checked = new Set(target.addresses.map((a) => canonicalAddress(a)));
  if (!connected || !checked.has(connected))
    return new WardenError("E_CAPABILITY_DENIED", `network: the connection to ${target.host} reached ${remote ?? "an unknown address"}, which is not the address that was checked; refused`, { denied: "connected address was not checked" });
  const reason = target.allowPrivate ? null : refusedAddressReason(remote!);
  if (reason)
    return new WardenError("E_CAPABILITY_DENIED", `network: the connection to ${target.host} reached ${remote} (${reason}), which is refused`, { denied: `${remote} is ${reason}` });
  return null;
}

function connectError(target: PinnedTarget, err: Error): WardenError {
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return new WardenError("E_TOOL_FAILED", `network: could not connect to ${target.host}:${target.port} (${code})`);
}

function tlsError(target: PinnedTarget, err: Error): WardenError {
  const code = (err as NodeJS.ErrnoException).code ?? "error";
  return new WardenError("E_TOOL_FAILED", `network: TLS with ${target.host}:${target.port} failed (${code}); the certificate must be valid for ${target.host}`);
}
