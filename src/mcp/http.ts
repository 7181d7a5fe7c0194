import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { checkpointHealth } from "../audit/index.js";
import type { Broker } from "../broker/index.js";
import type { Config } from "../config/schema.js";
import { ConnectionGuard, defaultConnectionLimits, type ConnectionLimits } from "./connection-guard.js";
import { allowedHostHeaders, authenticate, hostAllowed, originAllowed } from "./http-guard.js";
import { tokenIdentity } from "./identity.js";
import { createMcpSession } from "./session.js";

export interface HttpListener {
  url: string;
  port: number;
  close(): Promise<void>;
  sessionCount(): number;
  connectionCount(): number;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  mcp: { close(): Promise<void> };
  tokenSha256: string;
  inFlight: Map<string | number, AbortController>;
  lastSeen: number;
}

/** Sessions nobody used for this long are closed (clients that vanish without DELETE). */
const SESSION_IDLE_MS = 30 * 60 * 1000;
/** Time to send a request's headers, and the whole request (headers + body ≤ maxBodyBytes); responses (SSE) are not limited. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * JSON-RPC messages in one POST (MCP 2025-06-18 dropped batches; the SDK still
 * takes them). 100-message batches of 9 KB responses were the lever of #18.2.
 */
export const MAX_BATCH = 32;
/** How long a refused connection may linger after its answer before it is destroyed. */
const REFUSED_LINGER_MS = 500;

export interface HttpOptions {
  /** Connection caps; default from the process's open-file limit. */
  connections?: ConnectionLimits;
}

/** Streamable HTTP on `/mcp` (SPEC §8): token, Host, Origin and body-size checks before the SDK sees anything. */
export async function startHttp(broker: Broker, http: Config["http"], logger: Logger, version: string, options: HttpOptions = {}): Promise<HttpListener> {
  const [listenHost, portText] = splitListen(http.listen);
  const sessions = new Map<string, Session>();
  let allowed = allowedHostHeaders(listenHost, Number(portText), http.allowedHosts);

  const guard = new ConnectionGuard(options.connections ?? defaultConnectionLimits());
  // The checking interval is how late a timeout fires (Node's default: 30 s).
  const server: HttpServer = createServer({ connectionsCheckingInterval: 1_000, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS }, (req, res) => {
    res.once("close", guard.busy(req.socket));
    handle(req, res).catch((err) => {
      logger.error({ err: String((err as Error).message).slice(0, 200) }, "http request failed");
      if (!res.headersSent) refuse(res, 500, { error: "internal error" });
      else res.end();
    });
  });
  server.on("connection", (socket) => guard.admit(socket));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (!hostAllowed(req, allowed)) return refuse(res, 403, { error: "forbidden host header" });
    if (!originAllowed(req, http.allowedOrigins)) return refuse(res, 403, { error: "forbidden origin" });
    if (url.pathname === "/healthz" && req.method === "GET") {
      const detail = checkpointHealth(); // audit checkpoints not delivered for a while (SPEC §10)
      return sendJson(res, 200, { status: "ok", ...(detail.length > 0 ? { detail } : {}) });
    }
    if (url.pathname !== "/mcp") return refuse(res, 404, { error: "not found" });
    // Tokens come from the config in force now: a token removed from the config stops working at once.
    const identity = authenticate(req, broker.currentConfig.http.tokens);
    if (!identity) {
      res.setHeader("WWW-Authenticate", 'Bearer realm="mcp-warden"');
      return refuse(res, 401, { error: "a valid bearer token is required" });
    }
    guard.authenticated(req.socket);
    let body: unknown;
    if (req.method === "POST") {
      const read = await readBody(req, http.maxBodyBytes);
      if (read === "too-large") return refuse(res, 413, rpcError(`request body exceeds ${http.maxBodyBytes} bytes`));
      try {
        body = JSON.parse(read);
      } catch {
        return refuse(res, 400, rpcError("request body is not valid JSON", -32700));
      }
      if (Array.isArray(body) && body.length > MAX_BATCH) return refuse(res, 400, rpcError(`a batch holds at most ${MAX_BATCH} messages`));
      // A token that keeps getting refused waits at the door: its refusals cannot outgrow the audit log (#18.7).
      const wait = broker.refusalRetryAfter(identity.actor);
      if (wait > 0 && hasToolCall(body)) {
        res.setHeader("retry-after", String(wait));
        return refuse(res, 429, rpcError(`too many refused calls from this token; retry in ${wait} s`));
      }
    }
    const sessionId = req.headers["mcp-session-id"];
    let session = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    if (session && session.tokenSha256 !== identity.tokenSha256) return refuse(res, 403, rpcError("this session belongs to another token"));
    const fresh = !session;
    if (!session) {
      if (typeof sessionId === "string") return refuse(res, 404, rpcError("unknown or expired session"));
      if (req.method !== "POST" || !isInitializeRequest(body)) return refuse(res, 400, rpcError("no session: send initialize first"));
      if (sessions.size >= http.maxSessions) return refuse(res, 503, rpcError("too many sessions"));
      // One token cannot take every session slot from the others.
      const mine = [...sessions.values()].filter((s) => s.tokenSha256 === identity.tokenSha256).length;
      if (mine >= Math.max(1, Math.floor(http.maxSessions / 2))) return refuse(res, 503, rpcError("too many sessions for this token"));
      session = openSession(identity);
    }
    session.lastSeen = Date.now();
    watchDisconnect(res, body, session);
    await session.transport.handleRequest(req, res, body);
    // An initialize the SDK refused (bad Accept, bad version) leaves no half-open session behind.
    if (fresh && !(session.transport.sessionId && sessions.has(session.transport.sessionId))) await session.mcp.close().catch(() => {});
  }

  function openSession(token: { actor: string; allow?: readonly string[] | undefined; tokenSha256: string }): Session {
    const inFlight = new Map<string | number, AbortController>();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, session);
      },
    });
    // The scope is read from the live config at every check, by the token's digest (#18.1).
    const identity = tokenIdentity(broker, token.actor, token.tokenSha256);
    const mcp = createMcpSession({ broker, identity, logger, version, inFlight, sessionId: () => transport.sessionId });
    const session: Session = { transport, mcp, tokenSha256: token.tokenSha256, inFlight, lastSeen: Date.now() };
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
      for (const c of inFlight.values()) c.abort();
    };
    void mcp.connect(transport);
    return session;
  }

  const sweeper = setInterval(() => {
    const cutoff = Date.now() - SESSION_IDLE_MS;
    for (const s of sessions.values()) if (s.lastSeen < cutoff && s.inFlight.size === 0) void s.mcp.close().catch(() => {});
  }, 60_000);
  sweeper.unref();

  /** SPEC §8: a client that disconnects stops its sandboxes at once. */
  function watchDisconnect(res: ServerResponse, body: unknown, session: Session): void {
    const ids = requestIds(body);
    if (ids.length === 0) return;
    res.on("close", () => {
      if (res.writableFinished) return;
      for (const id of ids) session.inFlight.get(id)?.abort();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(portText), listenHost.replace(/^\[|\]$/g, ""), () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (Number(portText) === 0) allowed = allowedHostHeaders(listenHost, port, http.allowedHosts);
  return {
    url: `http://${listenHost}:${port}/mcp`,
    port,
    sessionCount: () => sessions.size,
    connectionCount: () => guard.size,
    async close() {
      clearInterval(sweeper);
      for (const s of sessions.values()) await s.transport.close().catch(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

function splitListen(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  return [listen.slice(0, i), listen.slice(i + 1)];
}

function hasToolCall(body: unknown): boolean {
  const msgs = Array.isArray(body) ? body : [body];
  return msgs.some((m) => m !== null && typeof m === "object" && (m as { method?: unknown }).method === "tools/call");
}

function requestIds(body: unknown): Array<string | number> {
  const msgs = Array.isArray(body) ? body : [body];
  return msgs.flatMap((m) => (m && typeof m === "object" && "method" in m && "id" in m ? [(m as { id: string | number }).id] : []));
}

async function readBody(req: IncomingMessage, limit: number): Promise<string | "too-large"> {
  const declared = Number(req.headers["content-length"] ?? 0);
  // Never drain a body that is refused anyway: refuse() closes the connection.
  if (declared > limit) return "too-large";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function rpcError(message: string, code = -32600) {
  return { jsonrpc: "2.0", error: { code, message }, id: null };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/**
 * An early refusal closes its connection (#18.3): Node would otherwise read
 * and discard the rest of a declared 1 MB body, at the peer's pace, holding a
 * descriptor for as long as the peer likes.
 */
function refuse(res: ServerResponse, status: number, body: unknown): void {
  res.shouldKeepAlive = false;
  // FIN right after the answer (the peer reads it); a peer that keeps sending is cut off shortly after.
  // Taken now: after a refused streamed body the request is destroyed and res.req.socket is null by "finish"
  // (a TypeError there, uncaught, took the whole server down).
  const socket = res.req.socket;
  res.once("finish", () => {
    socket?.end();
    setTimeout(() => socket?.destroy(), REFUSED_LINGER_MS).unref();
  });
  res.writeHead(status, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(body));
}
