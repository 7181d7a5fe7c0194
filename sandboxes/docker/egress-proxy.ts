/**
 * The only way out of a networked tool container: an HTTP CONNECT +
 * absolute-URI forward proxy listening on the egress network's gateway.
 *
 * Every request is checked with the SAME rule as `ctx.fetch`
 * (`authorizeEgress`: allowlist, port, and every resolved address public
 * unless the operator allowed private targets), and the proxy connects to the
 * address that was checked — never re-resolving, so there is no DNS
 * rebinding window. A request is attributed to a call by the container's
 * source address on the internal network; a container with no call in flight
 * (an idle pooled one, or one whose call already ended) gets nothing.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect, isIP, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { boundedEgressRecord, canonicalTarget, type EgressDecision, type EgressTarget } from "../../src/capabilities/network/index.js";
import type { EgressRecord, NetworkGrant } from "../../src/capabilities/types.js";

export type { EgressTarget };
/** The signature of `authorizeEgress` (src/capabilities/network): the one rule ctx.fetch also uses. */
export type AuthorizeEgress = (tool: string, grants: NetworkGrant[], target: EgressTarget) => Promise<EgressDecision>;

export interface CallBinding {
  callId: string;
  tool: string;
  grants: NetworkGrant[];
  onEgress(record: EgressRecord): void;
}

export interface EgressProxyOptions {
  authorize: AuthorizeEgress;
  /** Bytes received per connection; beyond, the connection is cut ("body sizes are bounded"). */
  maxBytes?: number;
  /**
   * Bytes sent per connection (a request body, or everything a tunnel uploads); beyond, the connection is
   * cut. Default 1 MiB, as ctx.fetch's maxRequestBytes: a tool must not exfiltrate bulk data unseen.
   */
  maxRequestBytes?: number;
  connectTimeoutMs?: number;
}

/** Methods whose requests carry no body: a body on them is refused, never forwarded unframed (smuggling). */
const BODYLESS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

const HOP_BY_HOP = ["connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"];

/** A call's open sockets, and the records still to report when they close (or when the call ends). */
type LiveBinding = CallBinding & { sockets: Set<Duplex>; unreported: Set<() => void> };

export class EgressProxy {
  private readonly bindings = new Map<string, LiveBinding>();
  private server: Server | undefined;
  private readonly maxBytes: number;
  private readonly maxRequestBytes: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: EgressProxyOptions) {
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxRequestBytes = options.maxRequestBytes ?? 1024 * 1024;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  /** Listens on `host` only (the gateway), never on 0.0.0.0. Returns the port. */
  async listen(host: string, port = 0): Promise<number> {
    const server = createServer((req, res) => void this.forward(req, res));
    server.on("connect", (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.tunnel(req, socket, head));
    server.on("clientError", (_err, socket) => socket.destroy());
    server.on("connection", (socket: Socket) => {
      const binding = this.bindings.get(clientAddress(socket));
      if (!binding) {
        // Not a container with a call in flight: close before parsing anything it sends.
        socket.destroy();
        return;
      }
      binding.sockets.add(socket);
      socket.on("close", () => binding.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, exclusive: true }, () => resolve());
    });
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  bind(containerIp: string, binding: CallBinding): void {
    this.bindings.set(containerIp, { ...binding, sockets: new Set(), unreported: new Set() });
  }

  /**
   * Every exchange is reported, its tool-controlled texts cut. The per-call bound (EGRESS_RECORDS_MAX records
   * plus one summary: a tool looping refused CONNECTs must not grow its audit line to hundreds of MB) is the
   * call's own, on its ToolHost (src/broker/tool-host.ts), the same one ctx.fetch's records go through: a
   * binding may serve many calls (a hosted server's session), and a bound here as well would count the
   * host's summary record as one more refusal.
   */
  private record(binding: LiveBinding, record: EgressRecord): void {
    binding.onEgress(boundedEgressRecord(record));
  }

  /** The call ended: its container's open tunnels are cut, later connections refused. */
  unbind(containerIp: string): void {
    const binding = this.bindings.get(containerIp);
    this.bindings.delete(containerIp);
    // Report still-open exchanges now, synchronously: the call's audit record is written when execute returns.
    for (const report of binding?.unreported ?? []) report();
    for (const socket of binding?.sockets ?? []) socket.destroy();
  }

  async close(): Promise<void> {
    for (const ip of [...this.bindings.keys()]) this.unbind(ip);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private stillBound(binding: LiveBinding, socket: Duplex): boolean {
    return this.bindings.get(clientAddress(socket as Socket)) === binding;
  }

  private bindingFor(socket: Duplex): (LiveBinding) | undefined {
    return this.bindings.get(clientAddress(socket as Socket));
  }

  /** CONNECT host:port — a TLS tunnel, so the target is checked as https. */
  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    client.on("error", () => {});
    const binding = this.bindingFor(client);
    if (!binding) return void client.destroy();
    const target = parseAuthority(req.url ?? "");
    if (!target) return refuseRaw(client, 400, "CONNECT needs host:port");
    // The canonical spelling (2130706433, %31…, "127.0.0.1." all read 127.0.0.1): what the rule judged.
    const record: EgressRecord = { host: recordedHost("https", target.host, target.port), port: target.port, method: "CONNECT", status: null, bytes: 0 };
    const auth = await this.options.authorize(binding.tool, binding.grants, { scheme: "https", ...target });
    // The call may have ended while we resolved: nothing it asked for may happen after its outcome.
    if (!this.stillBound(binding, client)) return void client.destroy();
    if (!auth.ok) {
      this.record(binding, { ...record, denied: auth.denied ?? auth.error.message });
      return refuseRaw(client, auth.denied ? 403 : 502, auth.error.message);
    }
    const upstream = await this.connectChecked(auth.addresses, target.port);
    if (upstream && !this.stillBound(binding, client)) {
      upstream.destroy();
      return void client.destroy();
    }
    if (!upstream) {
      this.record(binding, { ...record, status: 502 });
      return refuseRaw(client, 502, `could not connect to ${target.host}:${target.port}`);
    }
    binding.sockets.add(upstream);
    record.address = upstream.remoteAddress ?? "";
    let bytes = 0;
    let sent = head.length;
    upstream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > this.maxBytes) upstream.destroy();
    });
    // Uploads are counted and capped too: 100 MiB once went out of a tunnel recorded as "bytes: 24".
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > this.maxRequestBytes) upstream.destroy();
    });
    let reported = false;
    const done = (): void => {
      if (reported) return;
      reported = true;
      binding.unreported.delete(done);
      client.destroy();
      upstream.destroy();
      this.record(binding, { ...record, status: 200, bytes, bytesSent: Math.min(sent, this.maxRequestBytes) });
    };
    binding.unreported.add(done);
    upstream.on("close", done);
    client.on("close", done);
    upstream.on("error", done);
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > this.maxRequestBytes) return done();
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** GET http://host/path — plain HTTP through the proxy, checked as http. */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const binding = this.bindingFor(req.socket);
    if (!binding) return void req.socket.destroy();
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      return refuse(res, 400, "the proxy only forwards absolute http:// URLs");
    }
    if (url.protocol !== "http:") return refuse(res, 400, "use CONNECT for https; the proxy forwards only absolute http:// URLs");
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = url.port ? Number(url.port) : 80;
    const method = req.method ?? "GET";
    const record: EgressRecord = { host: recordedHost("http", host, port), port, method, status: null, bytes: 0 };
    // A body on GET was forwarded with no framing: its bytes reached the upstream as a SECOND request
    // ("GET /SMUGGLED … Host: internal.admin") that neither the allowlist nor the Host rewrite saw.
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (hasBody && BODYLESS.has(method.toUpperCase())) {
      this.record(binding, { ...record, denied: `a ${method} request with a body` });
      return refuse(res, 400, `a ${method} request may not carry a body`);
    }
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.maxRequestBytes) {
      this.record(binding, { ...record, denied: `request body over ${this.maxRequestBytes} bytes` });
      return refuse(res, 413, `request body of ${declared} bytes exceeds the limit of ${this.maxRequestBytes} bytes`);
    }
    const auth = await this.options.authorize(binding.tool, binding.grants, { scheme: "http", host, port });
    if (!this.stillBound(binding, req.socket)) return void req.socket.destroy();
    if (!auth.ok) {
      this.record(binding, { ...record, denied: auth.denied ?? auth.error.message });
      return refuse(res, auth.denied ? 403 : 502, auth.error.message);
    }
    const upstreamSocket = await this.connectChecked(auth.addresses, port);
    if (upstreamSocket && !this.stillBound(binding, req.socket)) {
      upstreamSocket.destroy();
      return void req.socket.destroy();
    }
    if (!upstreamSocket) {
      this.record(binding, { ...record, status: 502 });
      return refuse(res, 502, `could not connect to ${host}:${port}`);
    }
    binding.sockets.add(upstreamSocket);
    record.address = upstreamSocket.remoteAddress ?? "";
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    // One request in, one request out: a chunked body is re-framed as chunked (node's parser decoded it),
    // a Content-Length body keeps its (parser-enforced) length; nothing is written unframed.
    if (req.headers["transfer-encoding"] !== undefined) {
      delete headers["content-length"];
      headers["transfer-encoding"] = "chunked";
    }
    headers.host = url.host;
    headers.connection = "close";
    const upstream = httpRequest({
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers,
      // The socket is already connected to the checked address: no second DNS lookup, no shared agent
      // (an `agent` option would make node ignore createConnection and dial on its own).
      createConnection: () => upstreamSocket,
    });
    let status: number | null = null;
    let bytes = 0;
    let sent = 0;
    let reported = false;
    const report = (): void => {
      if (reported) return;
      reported = true;
      binding.unreported.delete(report);
      this.record(binding, { ...record, status: status ?? 502, bytes, bytesSent: Math.min(sent, this.maxRequestBytes) });
    };
    binding.unreported.add(report);
    upstream.on("error", () => {
      report();
      refuse(res, 502, `upstream ${host}:${port} failed`);
    });
    upstream.on("response", (up) => {
      status = up.statusCode ?? null;
      const outHeaders = { ...up.headers };
      for (const h of HOP_BY_HOP) delete outHeaders[h];
      res.writeHead(up.statusCode ?? 502, up.statusMessage, outHeaders);
      up.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > this.maxBytes) up.destroy();
        else res.write(chunk);
      });
      up.on("end", () => res.end());
      up.on("close", () => {
        report();
        if (!res.writableEnded) res.destroy();
      });
    });
    req.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > this.maxRequestBytes) {
        report();
        upstream.destroy();
        req.socket.destroy();
      }
    });
    req.pipe(upstream);
  }

  /** Tries the checked addresses in order; these, and only these, were authorized. */
  private async connectChecked(addresses: string[], port: number): Promise<Socket | undefined> {
    for (const address of addresses) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = connect({ host: address, port, timeout: this.connectTimeoutMs });
        s.once("connect", () => {
          s.setTimeout(0);
          resolve(s);
        });
        s.once("timeout", () => {
          s.destroy();
          resolve(undefined);
        });
        s.once("error", () => resolve(undefined));
      });
      if (socket) return socket;
    }
    return undefined;
  }
}

/** The host as the egress rule saw it (WHATWG-canonical), or the raw text when it does not parse (then refused). */
function recordedHost(scheme: "http" | "https", host: string, port: number): string {
  return canonicalTarget({ scheme, host, port })?.host ?? host;
}

function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}

/** "host:port" or "[v6]:port" of a CONNECT request. */
function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]/\s]+)):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (m[1] && isIP(host) !== 6) return undefined;
  return { host: host.toLowerCase(), port };
}

function refuseRaw(socket: Duplex, status: number, message: string): void {
  const body = `warden egress proxy: ${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${status === 403 ? "Forbidden" : status === 502 ? "Bad Gateway" : "Bad Request"}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function refuse(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
  res.end(`warden egress proxy: ${message}\n`);
}
