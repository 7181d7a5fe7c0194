import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  ErrorCode,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  McpError,
  SetLevelRequestSchema,
  type CallToolResult,
  type JSONRPCRequest,
  type LoggingLevel,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { Broker, ConfirmationAnswer, ConfirmationRequest } from "../broker/index.js";
import type { RegisteredTool } from "../broker/registry.js";
import { toolListing } from "./annotations.js";
import { readCallParams } from "./call-params.js";
import type { Identity } from "./identity.js";
import { LogThrottle, MAX_LINES_PER_WINDOW_ALL_SESSIONS, summarizeClientError } from "./log-throttle.js";
import { escapeForHuman } from "./prompt-text.js";
import { renderResult } from "./render.js";

export type { Identity } from "./identity.js";

export interface SessionOptions {
  broker: Broker;
  identity: Identity;
  logger: Logger;
  version: string;
  /** "stdio", or the HTTP session id once known (hosted MCP servers with lifecycle "session" live per session). */
  sessionId?: () => string | undefined;
  /** Calls in flight of this session, by JSON-RPC request id, so a disconnect can stop them. */
  inFlight?: Map<string | number, AbortController>;
}

type RequestExtra = Parameters<NonNullable<Server["fallbackRequestHandler"]>>[1];

const LEVELS = LoggingLevelSchema.options;
/** Client-caused log lines of every session of this process together (#18.2). */
const allSessionsThrottle = new LogThrottle(MAX_LINES_PER_WINDOW_ALL_SESSIONS);

/** One MCP server per client session: the same broker, this session's identity and notifications. */
export function createMcpSession(options: SessionOptions): Server {
  const { broker, identity, logger } = options;
  const server = new Server(
    { name: "mcp-warden", version: options.version },
    { capabilities: { tools: { listChanged: true }, logging: {} } },
  );
  let minLevel: LoggingLevel = "info";
  server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    minLevel = request.params.level;
    return {};
  });

  // What this session was last shown: list_changed goes only to sessions whose own list changed (#18.10).
  let shown = "";
  const visible = (): RegisteredTool[] => broker.listTools(identity.allow, identity.actor);
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const tools = visible();
    shown = signatureOf(tools);
    return { tools: tools.map(toolListing) };
  });

  const callTool = async (request: JSONRPCRequest, extra: RequestExtra): Promise<CallToolResult> => {
    const params = readCallParams(request.params);
    const name = params.name;
    const controller = new AbortController();
    const onAbort = () => controller.abort(extra.signal.reason);
    if (extra.signal.aborted) controller.abort();
    else extra.signal.addEventListener("abort", onAbort, { once: true });
    options.inFlight?.set(extra.requestId, controller);
    try {
      const progressToken = params.ok ? params.progressToken : undefined;
      // A malformed call still goes through the broker: it is refused there (unknown tool or
      // arguments that are not an object) and leaves its one audit record.
      const result = await broker.call(name, params.arguments, {
        actor: identity.actor,
        allow: identity.allow,
        signal: controller.signal,
        session: sessionKey(),
        logLevel: minLevel,
        log: (level, message) => {
          if (LEVELS.indexOf(level) < LEVELS.indexOf(minLevel)) return;
          void extra.sendNotification({ method: "notifications/message", params: { level, logger: name, data: message } }).catch(() => {});
        },
        progress:
          progressToken === undefined
            ? undefined
            : (done, total) => {
                void extra
                  .sendNotification({ method: "notifications/progress", params: { progressToken, progress: done, ...(total !== undefined ? { total } : {}) } })
                  .catch(() => {});
              },
        confirm: supportsElicitation(server) ? (req) => askHuman(server, req, broker.confirmTimeoutMs, controller.signal, extra.requestId) : undefined,
      });
      if (!params.ok) throw jsonRpcError(ErrorCode.InvalidParams, `invalid tools/call params: ${params.problem}`);
      // A JSON-RPC error (SPEC §8), also for a tool outside the caller's scope (#18.8).
      if (!result.ok && result.error.code === "E_UNKNOWN_TOOL") throw jsonRpcError(ErrorCode.InvalidParams, result.error.message);
      return renderResult(result);
    } finally {
      extra.signal.removeEventListener("abort", onAbort);
      options.inFlight?.delete(extra.requestId);
    }
  };
  // tools/call is served from the fallback handler: a handler registered for it
  // would only run after the SDK's schema check, which answers a malformed call
  // with a zod dump and no audit record (#18.9).
  server.fallbackRequestHandler = async (request, extra) => {
    if (request.method === "tools/call") return callTool(request, extra);
    throw new McpError(ErrorCode.MethodNotFound, "Method not found");
  };

  // Kill switch, approvals, tool changes and scope edits: a session hears of them only when its own list changed.
  const unsubscribe = broker.onToolsChanged(() => {
    const now = signatureOf(visible());
    if (now === shown) return;
    shown = now;
    void server.sendToolListChanged().catch(() => {});
  });
  // One key per session, fixed at the first call: hosted servers of this session are stopped when it closes.
  let key: string | undefined;
  function sessionKey(): string {
    key ??= options.sessionId?.() ?? `session-${randomUUID()}`;
    return key;
  }
  const throttle = new LogThrottle();
  server.onclose = () => {
    unsubscribe();
    if (key !== undefined) void broker.endSession(key);
  };
  server.onerror = (err) => {
    const slot = throttle.take();
    if (!slot || !allSessionsThrottle.take()) return;
    logger.warn({ actor: identity.actor, err: summarizeClientError(err.message), ...(slot.suppressedBefore ? { suppressed: slot.suppressedBefore } : {}) }, "mcp session error");
  };
  // The list a new session starts with is the one it would be shown.
  shown = signatureOf(visible());
  return server;
}

/** Not McpError: its message already carries "MCP error -32602:", which the client would add a second time. */
function jsonRpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function signatureOf(tools: RegisteredTool[]): string {
  return tools
    .map((t) => `${t.name}@${t.sandbox.digest}:${t.effect}`)
    .sort()
    .join(",");
}

function supportsElicitation(server: Server): boolean {
  const e = server.getClientCapabilities()?.elicitation as { form?: unknown } | undefined;
  return e !== undefined && (Object.keys(e).length === 0 || e.form !== undefined);
}

/**
 * SPEC §8: the human sees the tool, the exact (redacted) arguments and the
 * effect, for this one call. The prompt travels on the call's own response
 * stream (`relatedRequestId`): a client that opened no standalone GET stream
 * still gets it, and one that cannot receive it fails at once instead of
 * holding a confirmation slot until the timeout (#18.6).
 */
async function askHuman(server: Server, req: ConfirmationRequest, timeoutMs: number, signal: AbortSignal, relatedRequestId: RequestId): Promise<ConfirmationAnswer> {
  const result = await server.elicitInput(
    {
      message: escapeForHuman(
        `mcp-warden: allow ${req.tool} (${req.effect}) to run once with these arguments?\n` + `${JSON.stringify(req.input, null, 2)}\ncall ${req.callId}`,
      ),
      requestedSchema: {
        type: "object",
        properties: { confirm: { type: "boolean", title: `Run ${req.tool} (${req.effect})`, description: "Set to true to run this call once." } },
        required: ["confirm"],
      },
    },
    { timeout: timeoutMs, signal, relatedRequestId },
  );
  return { accepted: result.action === "accept" && result.content?.confirm === true, by: null };
}
