import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  LoggingLevelSchema,
  SetLevelRequestSchema,
  type CallToolResult,
  type LoggingLevel,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { Broker, ConfirmationAnswer, ConfirmationRequest } from "../broker/index.js";
import { toolListing } from "./annotations.js";
import { renderResult } from "./render.js";

export interface Identity {
  actor: string;
  allow?: readonly string[] | undefined;
}

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

const LEVELS = LoggingLevelSchema.options;

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

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: broker.listTools(identity.allow, identity.actor).map(toolListing),
  }));

  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const name = request.params.name;
    const progressToken = request.params._meta?.progressToken;
    const controller = new AbortController();
    const onAbort = () => controller.abort(extra.signal.reason);
    if (extra.signal.aborted) controller.abort();
    else extra.signal.addEventListener("abort", onAbort, { once: true });
    options.inFlight?.set(extra.requestId, controller);
    try {
      const result = await broker.call(name, request.params.arguments ?? {}, {
        actor: identity.actor,
        allow: identity.allow,
        signal: controller.signal,
        session: sessionKey(),
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
        confirm: supportsElicitation(server) ? (req) => askHuman(server, req, broker.confirmTimeoutMs, controller.signal) : undefined,
      });
      // A JSON-RPC error (SPEC §8). Not McpError: its message already carries "MCP error -32602:",
      // which the client would add a second time.
      if (!result.ok && result.error.code === "E_UNKNOWN_TOOL") throw Object.assign(new Error(result.error.message), { code: ErrorCode.InvalidParams });
      return renderResult(result);
    } finally {
      extra.signal.removeEventListener("abort", onAbort);
      options.inFlight?.delete(extra.requestId);
    }
  });

  // Kill switch, approvals and tool changes reach every connected client.
  const unsubscribe = broker.onToolsChanged(() => {
    void server.sendToolListChanged().catch(() => {});
  });
  // One key per session, fixed at the first call: hosted servers of this session are stopped when it closes.
  let key: string | undefined;
  function sessionKey(): string {
    key ??= options.sessionId?.() ?? `session-${randomUUID()}`;
    return key;
  }
  server.onclose = () => {
    unsubscribe();
    if (key !== undefined) void broker.endSession(key);
  };
  server.onerror = (err) => logger.warn({ err: err.message }, "mcp session error");
  return server;
}

function supportsElicitation(server: Server): boolean {
  const e = server.getClientCapabilities()?.elicitation as { form?: unknown } | undefined;
  return e !== undefined && (Object.keys(e).length === 0 || e.form !== undefined);
}

/** SPEC §8: the human sees the tool, the exact (redacted) arguments and the effect, for this one call. */
async function askHuman(server: Server, req: ConfirmationRequest, timeoutMs: number, signal: AbortSignal): Promise<ConfirmationAnswer> {
  const result = await server.elicitInput(
    {
      message:
        `mcp-warden: allow ${req.tool} (${req.effect}) to run once with these arguments?\n` +
        `${JSON.stringify(req.input, null, 2)}\ncall ${req.callId}`,
      requestedSchema: {
        type: "object",
        properties: { confirm: { type: "boolean", title: `Run ${req.tool} (${req.effect})`, description: "Set to true to run this call once." } },
        required: ["confirm"],
      },
    },
    { timeout: timeoutMs, signal },
  );
  return { accepted: result.action === "accept" && result.content?.confirm === true, by: null };
}
