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
import { engineCall } from "../docker/engine.js";
import { killContainer, removeContainer, startContainer, type StartedContainer } from "../docker/sandbox.js";
import type { ToolHost, ToolLogLevel } from "../executor.js";
import { ContainerTransport, LineTooLongError } from "./container-transport.js";

/** At most this many tools are read from one server (pages × entries): a server cannot make warden list forever. */
const MAX_LIST_PAGES = 20;
const MAX_TOOLS = 1000;
/** Re-reads after `list_changed` run one at a time, at most once a second (review F2): a flood costs one re-read a second. */
const RELIST_MIN_INTERVAL_MS = 1000;
/** A server that keeps asking the client for things (sampling, elicitation, roots) is stopped after this many refusals (F12). */
const MAX_REFUSED_REQUESTS = 100;
/** Refused requests are logged this many times at most. */
const MAX_REFUSAL_LOGS = 10;

/** How long a call whose connection closed waits for the engine to say how its server ended (OOM or crash). */
const GONE_WAIT_MS = 6_000;

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
  /** The JSON-RPC id the request went out with (for the cancel grace). */
  onRequestId?(id: string | number): void;
}

type LogSink = (level: ToolLogLevel, message: string) => void;

const LEVELS: Record<string, ToolLogLevel> = { debug: "debug", info: "info", notice: "info", warning: "warning", error: "error", critical: "error", alert: "error", emergency: "error" };

export class HostedServer {
  /** Tool name → sha256 of its canonical definition, as the server lists it now. */
  readonly live = new Map<string, string>();
  definitions: ServerToolDefinition[] = [];
  /** Calls in flight on this server (egress through the proxy is charged to them). */
  /** The calls in flight on this server, by call id: egress through the proxy is charged to each of them. */
  readonly calls = new Map<string, ToolHost>();
  /** Rejecters of the calls in flight: a server that goes away ends each with its reason (no per-call listener on `gone`). */
  private readonly pending = new Set<(reason: WardenError) => void>();
  private junkLines = 0;
  private refusedRequests = 0;
  /** list_changed coalescing: a re-read in flight, and whether another is owed after it. */
  private relisting: Promise<void> | null = null;
  private relistOwed = false;
  private lastRelistAt = 0;
  /** JSON-RPC ids of tools/call requests the server answered (recent ones): a cancelled call that was answered in the grace is not killed (F9). */
  private readonly answered = new Set<string | number>();
  private captureId: ((id: string | number) => void) | null = null;
  private readonly logSinks = new Set<LogSink>();
  private endReason: WardenError | null = null;
  private listeners = new Set<(defs: ServerToolDefinition[]) => void>();

  /** Resolves once the container ended, its exit was read (OOM ⇒ E_MEMORY) and it was removed. */
  readonly gone: Promise<void>;

  private constructor(
    private readonly sandbox: StartedContainer,
    private readonly client: Client,
    private readonly options: HostedServerOptions,
  ) {
    // No AutoRemove (it loses the OOM flag): read State.OOMKilled, then remove.
    this.gone = sandbox.ended.then(async () => {
      const state = await engineCall("inspect", sandbox.container.inspect(), 5000).then((i) => i.State, () => null);
      if (state?.OOMKilled) this.endReason ??= new WardenError("E_MEMORY", `the MCP server of ${options.name} ran out of memory (its memoryMb limit)`);
      for (const reject of this.pending) reject(this.failure);
      this.pending.clear();
      await removeContainer(sandbox.container);
    });
  }

  /** Creates and starts the container, runs `initialize` and reads `tools/list`. Bounded by `signal`. */
  static async start(options: HostedServerOptions, signal: AbortSignal): Promise<HostedServer> {
    const sandbox = await startContainer(options.docker, options.spec, {
      inspect: true,
      ...(options.egressNetwork ? { egressNetwork: options.egressNetwork } : {}),
      ...(options.afterStart ? { afterStart: options.afterStart } : {}),
    });
    let server: HostedServer | undefined;
    try {
      const client = new Client({ name: "mcp-warden", version: options.version }, { capabilities: {} });
      server = new HostedServer(sandbox, client, options);
      await server.connect(signal);
      return server;
    } catch (err) {
      if (!server) {
        await removeContainer(sandbox.container);
        throw err;
      }
      // The server died while it started (killed, out of memory, exited): that is its crash, not an engine
      // that cannot run containers — the reason as the engine reports it, like a death during a call.
      const died = server.diedUnder(err, signal);
      if (died) await server.verdict(signal);
      const reason = died ? server.failure : err;
      await server.close();
      throw reason;
    }
  }

  get id(): string {
    return this.sandbox.id;
  }

  get imageId(): string {
    return this.sandbox.imageId ?? "";
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
      const method = String(request.method).slice(0, 100);
      if (++this.refusedRequests <= MAX_REFUSAL_LOGS)
        log?.warn({ tool: options.name, method, count: this.refusedRequests }, "hosted MCP server sent a request to the client; refused (logged 10 times at most)");
      if (this.refusedRequests > MAX_REFUSED_REQUESTS)
        this.end(new WardenError("E_TOOL_FAILED", `the MCP server of ${options.name} kept sending requests to the client (${MAX_REFUSED_REQUESTS} refused); it was stopped`));
      throw new McpError(ErrorCode.MethodNotFound, `mcp-warden does not forward ${method} from a hosted server`);
    };
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      const data = n.params.data;
      const text = typeof data === "string" ? data : JSON.stringify(data) ?? "";
      for (const sink of this.logSinks) sink(LEVELS[n.params.level] ?? "info", text);
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.relistSoon());
    const transport = new ContainerTransport({
      stdio: sandbox.stdio,
      modem: options.docker.modem,
      maxLineBytes: options.maxLineBytes,
      onStderrLine: (line) => {
        for (const sink of this.logSinks) sink("info", line);
        log?.debug({ tool: options.name, line: line.slice(0, 500) }, "hosted server stderr");
      },
      // Bounded: a server spamming junk on stdout must not flood warden's own log.
      onSend: (message) => {
        // The JSON-RPC id of the tools/call being sent right now belongs to the call that is capturing it.
        const m = message as { id?: string | number; method?: string };
        if (m.method === "tools/call" && m.id !== undefined && this.captureId) this.captureId(m.id);
      },
      onResponse: (id) => {
        this.answered.add(id);
        if (this.answered.size > 256) this.answered.delete(this.answered.values().next().value!);
      },
      onJunk: (what) => {
        if (++this.junkLines <= 10) log?.warn({ tool: options.name, line: what, count: this.junkLines }, "hosted server wrote a non-JSON-RPC line on stdout; ignored (logged 10 times at most)");
      },
    });
    transport.onerror = (err) => {
      if (err instanceof LineTooLongError) this.end(new WardenError("E_OUTPUT_TOO_LARGE", `the MCP server of ${options.name} wrote more than ${err.limit} bytes in one message (the output budget); it was stopped`));
    };
    await withSignal(client.connect(transport, { signal }), signal);
    await this.refreshDefinitions(signal);
  }

  /**
   * `notifications/tools/list_changed`: re-read, one at a time and at most once a second; a re-read that
   * fails leaves no tool trusted (F10: fail closed) until one succeeds.
   */
  private relistSoon(): void {
    if (this.relisting) {
      this.relistOwed = true;
      return;
    }
    const wait = Math.max(0, this.lastRelistAt + RELIST_MIN_INTERVAL_MS - Date.now());
    this.relisting = new Promise<void>((r) => setTimeout(r, wait).unref())
      .then(() => {
        this.lastRelistAt = Date.now();
        return this.refreshDefinitions(AbortSignal.timeout(10_000));
      })
      .catch((err: unknown) => {
        // Fail closed: a server whose current tools cannot be checked is trusted with none of them,
        // and is stopped; the next call starts a new one and checks its list afresh.
        this.live.clear();
        this.options.logger?.warn({ tool: this.options.name, err: (err as Error).message }, "re-reading the hosted server's tools failed; it was stopped");
        this.end(new WardenError("E_TOOL_FAILED", `the MCP server of ${this.options.name} said its tools changed and then could not list them; it was stopped`));
      })
      .finally(() => {
        this.relisting = null;
        if (this.relistOwed && !this.ended) {
          this.relistOwed = false;
          this.relistSoon();
        }
      });
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
    let reject!: (reason: WardenError) => void;
    const died = new Promise<never>((_, r) => (reject = r));
    this.pending.add(reject);
    this.captureId = (id) => hooks.onRequestId?.(id);
    const request = this.client.request({ method: "tools/call", params: { name, arguments: args } }, CallToolResultSchema, {
      signal: hooks.signal,
      // The broker's deadline governs: the SDK's own request timeout must never fire first.
      timeout: 2 ** 31 - 1,
      ...(hooks.onProgress ? { onprogress: (p: { progress: number; total?: number | undefined }) => hooks.onProgress!(p.progress, p.total) } : {}),
    });
    this.captureId = null;
    try {
      return (await Promise.race([request, died])) as CallToolResult;
    } catch (err) {
      // The connection closed under the call (the SDK says so before the engine does): the server died. Its
      // reason — out of memory, a crash, a stop by warden — is known once the engine reports how it ended, so
      // wait for that (bounded) and answer it, never a generic "connection closed" (the contract suite's
      // E_MEMORY and E_SANDBOX_CRASHED cases).
      if (this.diedUnder(err, hooks.signal)) {
        // The call's own deadline and cancellation still govern the wait (a slow engine must not stretch them).
        await this.verdict(hooks.signal);
        if (hooks.signal.aborted) throw hooks.signal.reason;
        throw this.failure;
      }
      throw err;
    } finally {
      this.pending.delete(reject);
    }
  }

  /**
   * Whether `err` (a start or a call failing while `signal` was not aborted) is this server dying: it ended,
   * or the connection closed under the request — the SDK says so before the engine does.
   */
  private diedUnder(err: unknown, signal: AbortSignal): boolean {
    return !signal.aborted && (this.ended || (err instanceof McpError && err.code === ErrorCode.ConnectionClosed));
  }

  /**
   * Waits (bounded by GONE_WAIT_MS and by `signal`) for the engine to say how the server ended — OOM or
   * not — unless warden already knows why (it stopped the server itself: close, flood, refusals).
   */
  private async verdict(signal: AbortSignal): Promise<void> {
    if (this.endReason !== null || signal.aborted) return;
    let done!: () => void;
    const stop = new Promise<void>((r) => (done = r));
    const timer = setTimeout(done, GONE_WAIT_MS);
    const onAbort = (): void => done();
    signal.addEventListener("abort", onAbort, { once: true });
    await Promise.race([this.gone, stop]);
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
  }

  /** Whether the server answered the tools/call with this JSON-RPC id (even after warden stopped waiting). */
  wasAnswered(id: string | number): boolean {
    return this.answered.has(id);
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

}

function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
