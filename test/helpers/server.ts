import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { buildRoot } from "./paths.js";
import { TEST_TOKEN } from "./workspace.js";

export const CLI_MAIN = () => join(buildRoot(), "src", "cli", "main.js");

/** A real SDK client talking to `warden serve` over stdio (a child process). */
export async function connectStdio(configPath: string, options: { env?: Record<string, string>; capabilities?: Record<string, unknown> } = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ["--no-node-snapshot", CLI_MAIN(), "serve", "--config", configPath],
    env: { ...(process.env as Record<string, string>), WARDEN_LOG_LEVEL: "warn", ...options.env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += String(d)));
  const client = new Client({ name: "warden-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr, close: () => client.close() };
}

export interface HttpServerHandle {
  url: string;
  origin: string;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** `warden serve --http` as a child process; resolves once it logged its URL. */
export async function startHttpServer(configPath: string, env: Record<string, string> = {}): Promise<HttpServerHandle> {
  const child = spawn(process.execPath, ["--no-node-snapshot", CLI_MAIN(), "serve", "--http", "--config", configPath], {
    env: { ...process.env, WARDEN_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    child.stderr!.on("data", (d) => {
      stderr += String(d);
      const m = /listening on (http:\/\/\S+\/mcp)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited ${code}: ${stderr}`));
    });
  });
  return {
    url,
    origin: new URL(url).origin,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

export async function connectHttp(url: string, options: { token?: string; capabilities?: Record<string, unknown> } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${options.token ?? TEST_TOKEN}` } },
  });
  const client = new Client({ name: "warden-test", version: "1.0.0" }, { capabilities: options.capabilities ?? {} });
  await client.connect(transport);
  return { client, transport, close: () => client.close() };
}
