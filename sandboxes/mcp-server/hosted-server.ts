/**
 * One running, unmodified MCP server in its hardened container, with warden
 * as its MCP client (the SDK's `Client` over the container's stdio). The
 * server is untrusted: every request it makes of the client is refused, its
 * tool list is re-read when it says it changed, and its stdout is bounded.
 */
import type Dockerode from "dockerode";
import type { Logger } from "pino";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  CallToolResultSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type CallToolResult,
} from "@modelcontextprotocol/sdk/types.js";
import { WardenError } from "../../src/errors.js";
import type { ServerToolDefinition } from "../../src/policy/pins.js";
import { pinOf } from "../../src/policy/pins.js";
import { engineCall } from "../container/engine.js";
import { killContainer, removeContainer } from "../container/sandbox.js";
import { startServerContainer, type ServerContainer } from "./server-container.js";
import type { ToolLogLevel } from "../executor.js";
import { ContainerTransport, LineTooLongError } from "./container-transport.js";

/** At most this many tools are read from one server (pages × entries): a server cannot make warden list forever. */
const MAX_LIST_PAGES = 20;
const MAX_TOOLS = 1000;

export interface HostedServerOptions {
  docker: Dockerode;
  spec: Dockerode.ContainerCreateOptions;
  egressNetwork?: string | undefined;
  /** Runs once the container started, before any MCP traffic (the egress DNS block). */
  afterStart?: ((info: { pid: number }) => Promise<void>) | undefined;
  /** Bound of one stdout line (a JSON-RPC message): larger ⇒ the server is killed, in-flight calls get E_OUTPUT_TOO_LARGE. */
  maxLineBytes: number;
  logger?: Logger | undefined;
  name: string;
  version: string;
}

export interface CallHooks {
  signal: AbortSignal;
  onProgress?(done: number, total?: number): void;
}

type LogSink = (level: ToolLogLevel, message: string) => void;

const LEVELS: Record<string, ToolLogLevel> = { debug: "debug", info: "info", notice: "info", warning: "warning", error: "error", critical: "error", alert: "error", emergency: "error" };

export class HostedServer {
  /** Tool name → sha256 of its canonical definition, as the server lists it now. */
  readonly live = new Map<string, string>();
  definitions: ServerToolDefinition[] = [];
  /** Calls in flight on this server (egress through the proxy is charged to them). */
  readonly calls = new Set<string>();
  private readonly logSinks = new Set<LogSink>();
  private endReason: WardenError | null = null;
  private listeners = new Set<(defs: ServerToolDefinition[]) => void>();

  /** Resolves once the container ended, its exit was read (OOM ⇒ E_MEMORY) and it was removed. */
  readonly gone: Promise<void>;

  private constructor(
    private readonly sandbox: ServerContainer,
    private readonly client: Client,
    private readonly options: HostedServerOptions,
  ) {
    // No AutoRemove (it loses the OOM flag): read State.OOMKilled, then remove.
    this.gone = sandbox.ended.then(async () => {
      const state = await engineCall("inspect", sandbox.container.inspect(), 5000).then((i) => i.State, () => null);
      if (state?.OOMKilled) this.endReason ??= new WardenError("E_MEMORY", `the MCP server of ${options.name} ran out of memory (its memoryMb limit)`);
      await removeContainer(sandbox.container);
    });
  }

  /** Creates and starts the container, runs `initialize` and reads `tools/list`. Bounded by `signal`. */
  static async start(options: HostedServerOptions, signal: AbortSignal): Promise<HostedServer> {
    const sandbox = await startServerContainer(options.docker, options.spec, options.egressNetwork, options.afterStart);
    let server: HostedServer | undefined;
    try {
      const client = new Client({ name: "mcp-warden", version: options.version }, { capabilities: {} });
      server = new HostedServer(sandbox, client, options);
      await server.connect(signal);
      return server;
    } catch (err) {
      await (server ? server.close() : removeContainer(sandbox.container));
      throw err;
    }
  }

  get id(): string {
    return this.sandbox.id;
  }

  get imageId(): string {
    return this.sandbox.imageId;
  }

  get ip(): string | undefined {
    return this.sandbox.ip;
  }

  get ended(): boolean {
    return this.sandbox.isEnded() || this.endReason !== null;
  }

  /** Why the server stopped, for the calls it took down with it. */
  get failure(): WardenError {
    return this.endReason ?? new WardenError("E_SANDBOX_CRASHED", `the MCP server of ${this.options.name} exited`);
  }

  onDefinitions(listener: (defs: ServerToolDefinition[]) => void): void {
    this.listeners.add(listener);
  }

  addLogSink(sink: LogSink): () => void {
    this.logSinks.add(sink);
    return () => this.logSinks.delete(sink);
  }

  private async connect(signal: AbortSignal): Promise<void> {
    const { client, sandbox, options } = this;
    const log = options.logger;
    // SPEC §15: an untrusted server never drives the client's model (sampling), questions the human
    // (elicitation) or learns the client's roots. warden declares none of these capabilities and answers
    // every server-to-client request with an error; the MCP client of warden never sees it.
    client.fallbackRequestHandler = async (request) => {
      log?.warn({ tool: options.name, method: String(request.method).slice(0, 100) }, "hosted MCP server sent a request to the client; refused");
      throw new McpError(ErrorCode.MethodNotFound, `mcp-warden does not forward ${String(request.method).slice(0, 100)} from a hosted server`);
    };
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      const data = n.params.data;
      const text = typeof data === "string" ? data : JSON.stringify(data) ?? "";
      for (const sink of this.logSinks) sink(LEVELS[n.params.level] ?? "info", text);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      void this.refreshDefinitions(AbortSignal.timeout(10_000)).catch((err: unknown) =>
        log?.warn({ tool: options.name, err: (err as Error).message }, "re-reading the hosted server's tools failed"),
      );
    });
    const transport = new ContainerTransport({
      stdio: sandbox.stdio,
      modem: options.docker.modem,
      maxLineBytes: options.maxLineBytes,
      onStderrLine: (line) => {
        for (const sink of this.logSinks) sink("info", line);
        log?.debug({ tool: options.name, line: line.slice(0, 500) }, "hosted server stderr");
      },
      onJunk: (what) => log?.warn({ tool: options.name, line: what }, "hosted server wrote a non-JSON-RPC line on stdout; ignored"),
    });
    transport.onerror = (err) => {
      if (err instanceof LineTooLongError) this.end(new WardenError("E_OUTPUT_TOO_LARGE", `the MCP server of ${options.name} wrote more than ${err.limit} bytes in one message (the output budget); it was stopped`));
    };
    await withSignal(client.connect(transport, { signal }), signal);
    await this.refreshDefinitions(signal);
  }

  private async refreshDefinitions(signal: AbortSignal): Promise<void> {
    const defs: ServerToolDefinition[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const result = await this.client.listTools(cursor ? { cursor } : undefined, { signal });
      for (const t of result.tools) {
        if (defs.length >= MAX_TOOLS) break;
        defs.push({
          name: t.name,
          title: t.title,
          description: t.description,
          inputSchema: t.inputSchema as Record<string, unknown>,
          outputSchema: t.outputSchema as Record<string, unknown> | undefined,
          annotations: t.annotations as Record<string, unknown> | undefined,
        });
      }
      cursor = result.nextCursor;
      if (!cursor || defs.length >= MAX_TOOLS) break;
    }
    this.definitions = defs;
    this.live.clear();
    for (const d of defs) this.live.set(d.name, pinOf(d).sha256);
    for (const l of this.listeners) l(defs);
  }

  /** One tools/call; `signal` aborts it (the SDK then sends notifications/cancelled to the server). */
  async call(name: string, args: Record<string, unknown>, hooks: CallHooks): Promise<CallToolResult> {
    const died = new Promise<never>((_, reject) => {
      void this.gone.then(() => reject(this.failure));
    });
    const request = this.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, {
      signal: hooks.signal,
      // The broker's deadline governs: the SDK's own request timeout must never fire first.
      timeout: 2 ** 31 - 1,
      ...(hooks.onProgress ? { onprogress: (p: { progress: number; total?: number | undefined }) => hooks.onProgress!(p.progress, p.total) } : {}),
    });
    return (await Promise.race([request, died])) as CallToolResult;
  }

  /** Marks the server as failed (the reason reaches in-flight calls) and kills it. */
  end(reason: WardenError): void {
    this.endReason ??= reason;
    void killContainer(this.sandbox.container);
  }

  async close(): Promise<void> {
    this.endReason ??= new WardenError("E_CANCELLED", `the MCP server of ${this.options.name} was stopped`);
    await this.client.close().catch(() => {});
    await removeContainer(this.sandbox.container);
  }

  /** Resolves when the container is gone (exit, kill or removal, then removed). */
  get exited(): Promise<void> {
    return this.gone;
  }
}

function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
