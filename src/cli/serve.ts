import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { createLogger } from "../logger.js";
import { stdioIdentity } from "../mcp/identity.js";
import { createMcpSession } from "../mcp/session.js";
import { openRuntime } from "../runtime/open.js";
import { WARDEN_VERSION } from "../version.js";
import { reportCliError } from "./errors.js";
import { EXIT_OK, type CliCommand } from "./types.js";

export const serveCommand: CliCommand = async ({ flags, configPath }, io) => {
  const logger = createLogger();
  let runtime;
  try {
    runtime = await openRuntime(configPath, logger);
  } catch (err) {
    return reportCliError(err, io);
  }
  const { broker, loaded } = runtime;
  runtime.watch();
  // Pre-warm in the background: the transport answers initialize and tools/list at once.
  const warm = broker.prepare().catch((err) => logger.warn({ err: (err as Error).message }, "pre-warming failed"));
  const stop = async () => {
    await runtime.close();
    logger.flush();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  if (flags.http) {
    const http = loaded.config.http;
    if (http.tokens.length === 0) {
      io.stderr(`warden: ${loaded.file}: http.tokens is empty; fix: add {"name": "...", "sha256": "<sha256 of the token>"} — the HTTP transport never runs without auth\n`);
      return 2;
    }
    await warm;
    // Loaded only for --http: a stdio server never loads the HTTP transport (#14: start only what is needed).
    const { startHttp } = await import("../mcp/http.js");
    const listener = await startHttp(broker, http, logger, WARDEN_VERSION);
    logger.info({ url: listener.url, tools: broker.listTools().length }, `mcp-warden listening on ${listener.url} (Streamable HTTP, bearer token required)`);
  } else {
    const transport = new StdioServerTransport();
    const server = createMcpSession({ broker, identity: stdioIdentity(broker), logger, version: WARDEN_VERSION, sessionId: () => "stdio" });
    transport.onclose = () => void stop();
    process.stdin.once("end", () => void stop());
    await server.connect(transport);
    logger.info({ tools: broker.listTools().length }, "mcp-warden serving MCP on stdio");
  }
  await new Promise(() => {});
  return EXIT_OK;
};
