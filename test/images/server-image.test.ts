/**
 * The server image (SPEC §12, images/warden/): `docker run` with a read-only
 * rootfs, no capabilities, no-new-privileges, a non-root user, config mounted
 * read-only, the audit log on a volume, published on loopback only — and
 * neither --privileged nor the Docker socket — serves isolate tools over
 * Streamable HTTP to a real MCP SDK client, and refuses callers without a token.
 *
 * Needs a Docker engine and the image (`bash images/warden/build.sh`). Without
 * them the suite is skipped loudly on a workstation and FAILS under CI=true.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, readdirSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { buildRoot } from "../helpers/paths.js";
import { makeWorkspace, TEST_TOKEN, TEST_TOKEN_SHA, type Workspace } from "../helpers/workspace.js";

const run = promisify(execFile);
const IMAGE = process.env.WARDEN_SERVER_IMAGE ?? "warden/server:1";
const CI = process.env.CI === "true";
/** Every container and volume this suite creates carries it, so cleanup can find leftovers of a crashed run. */
const LABEL = "warden.test=server-image";
const BUILD_HINT = "build it with: bash images/warden/build.sh";

async function docker(args: string[], timeout = 60_000): Promise<string> {
  const { stdout } = await run("docker", args, { timeout, maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** null when the suite can run, else why not. */
async function unavailable(): Promise<string | null> {
  try {
    await docker(["info", "--format", "{{.ServerVersion}}"], 15_000);
  } catch (err) {
    return `no Docker engine reachable (docker info: ${String((err as Error).message).split("\n")[0]})`;
  }
  try {
    await docker(["image", "inspect", IMAGE], 15_000);
  } catch {
    return `image ${IMAGE} is missing; ${BUILD_HINT}`;
  }
  return null;
}

const reason = await unavailable();
if (reason && !CI) {
  const bar = "!".repeat(78);
  console.warn(`\n${bar}\n!! SKIPPING the server image tests: ${reason}\n!! (under CI=true this is a failure)\n${bar}\n`);
}

/** A port that is free on loopback now; the config must name it (Host allowlist) before the container starts. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function raw(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = "";
      res.on("data", (d) => (body += String(d)));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

async function connect(url: string, token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: "warden-image-test", version: "1.0.0" });
  await client.connect(transport);
  return client;
}

/** The pid of the test process that owns a container or volume, so leftover cleanup never touches a live run's. */
const OWNER_LABEL = "warden.test.pid";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes containers and volumes left by a crashed earlier run of this suite (its owner pid is gone). */
async function removeLeftovers(): Promise<void> {
  const owned = async (kind: "container" | "volume") => {
    const ids = (await docker([kind === "container" ? "ps" : "volume", ...(kind === "container" ? ["-aq"] : ["ls", "-q"]), "--filter", `label=${LABEL}`]).catch(() => ""))
      .split("\n")
      .filter(Boolean);
    const stale: string[] = [];
    for (const id of ids) {
      const pid = Number(await docker([kind, "inspect", "--format", `{{index .${kind === "container" ? "Config.Labels" : "Labels"} "${OWNER_LABEL}"}}`, id]).catch(() => "0"));
      if (!pid || !alive(pid)) stale.push(id);
    }
    return stale;
  };
  const containers = await owned("container");
  if (containers.length) await docker(["rm", "-f", "-v", ...containers]).catch(() => {});
  const volumes = await owned("volume");
  if (volumes.length) await docker(["volume", "rm", "-f", ...volumes]).catch(() => {});
}

/** Makes the temp config readable by uid 10001 (mkdtemp folders are 0700 and owned by whoever runs the tests). */
function openForReading(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) openForReading(path);
    else chmodSync(path, 0o644);
  }
}

describe(`server image ${IMAGE}`, { skip: reason && !CI ? reason : false }, () => {
  const suffix = randomBytes(4).toString("hex");
  const name = `warden-test-server-${suffix}`;
  const volume = `warden-test-audit-${suffix}`;
  let ws: Workspace;
  let port: number;
  let url: string;
  let client: Client | undefined;

  before(async () => {
    if (reason) assert.fail(`CI=true and the server image tests cannot run: ${reason}`);
    port = await freePort();
    url = `http://127.0.0.1:${port}/mcp`;
    ws = makeWorkspace({
      examples: ["word_stats"],
      config: {
        // Inside the container the server must listen on all interfaces; the host publishes it on loopback only.
        // The client's Host header is 127.0.0.1:<published port>, which the server only accepts when listed.
        http: { listen: "0.0.0.0:8787", tokens: [{ name: "ci", sha256: TEST_TOKEN_SHA }], allowedHosts: [`127.0.0.1:${port}`, `localhost:${port}`] },
        audit: { file: "/var/lib/warden/audit.jsonl" },
      },
    });
    // Approve on the host, as an operator would, before mounting the folder read-only.
    await run(process.execPath, ["--no-node-snapshot", join(buildRoot(), "src", "cli", "main.js"), "approve", "word_stats", "--yes", "--config", ws.configPath], {
      timeout: 60_000,
    });
    openForReading(ws.dir);
    await removeLeftovers();
    await docker(["volume", "create", "--label", LABEL, "--label", `${OWNER_LABEL}=${process.pid}`, volume]);
    await docker([
      "run", "-d", "--name", name, "--label", LABEL, "--label", `${OWNER_LABEL}=${process.pid}`,
      "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--user", "10001",
      "-v", `${ws.dir}:/etc/warden:ro`, "-v", `${volume}:/var/lib/warden`,
      "-p", `127.0.0.1:${port}:8787`,
      // The image's own HEALTHCHECK command, polled faster than its production interval so the suite stays short.
      "--health-interval", "1s", "--health-start-period", "60s",
      IMAGE,
    ]);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const state = JSON.parse(await docker(["inspect", "--format", "{{json .State}}", name])) as { Status: string; Health?: { Status: string } };
      if (state.Health?.Status === "healthy") break;
      if (state.Status !== "running" || Date.now() > deadline) {
        const logs = await run("docker", ["logs", "--tail", "40", name]).then((r) => r.stdout + r.stderr, () => "");
        assert.fail(`container did not become healthy (status ${state.Status}, health ${state.Health?.Status}):\n${logs}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  after(async () => {
    await client?.close().catch(() => {});
    await docker(["rm", "-f", "-v", name]).catch(() => {});
    await docker(["volume", "rm", "-f", volume]).catch(() => {});
    if (ws) rmSync(ws.dir, { recursive: true, force: true });
  });

  test("the image itself defaults to a non-root user and runs the CLI with --no-node-snapshot", async () => {
    const config = JSON.parse(await docker(["image", "inspect", "--format", "{{json .Config}}", IMAGE])) as {
      User: string;
      Entrypoint: string[];
      Cmd: string[];
      Healthcheck?: { Test: string[] };
    };
    assert.equal(config.User, "10001:10001");
    assert.deepEqual(config.Entrypoint, ["node", "--no-node-snapshot", "/app/dist/src/cli/main.js"]);
    assert.deepEqual(config.Cmd, ["serve", "--http", "--config", "/etc/warden/warden.config.json"]);
    assert.match(config.Healthcheck?.Test.join(" ") ?? "", /\/healthz/);
  });

  test("the container runs unprivileged: non-root, read-only rootfs, no capabilities, no Docker socket", async () => {
    const info = JSON.parse(await docker(["inspect", name]))[0] as {
      Config: { User: string };
      HostConfig: { ReadonlyRootfs: boolean; Privileged: boolean; CapDrop: string[] | null; CapAdd: string[] | null; SecurityOpt: string[] | null; PortBindings: Record<string, Array<{ HostIp: string }>> };
      Mounts: Array<{ Source: string; Destination: string; RW: boolean }>;
    };
    assert.ok(!["", "0", "root"].includes(info.Config.User.split(":")[0]!), `User is ${info.Config.User}`);
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.equal(info.HostConfig.Privileged, false);
    assert.deepEqual(info.HostConfig.CapDrop, ["ALL"]);
    assert.ok(!info.HostConfig.CapAdd?.length, "no capability added back");
    assert.ok(info.HostConfig.SecurityOpt?.includes("no-new-privileges"));
    assert.equal(info.HostConfig.PortBindings["8787/tcp"]?.[0]?.HostIp, "127.0.0.1");
    assert.ok(!info.Mounts.some((m) => /docker\.sock/.test(m.Source) || /docker\.sock/.test(m.Destination)), "no Docker socket mounted");
    assert.equal(info.Mounts.find((m) => m.Destination === "/etc/warden")?.RW, false, "config is mounted read-only");
    // What the process really is, not only what was asked for.
    assert.equal(await docker(["exec", name, "node", "-e", "process.stdout.write(String(process.getuid()))"]), "10001");
  });

  test("the server process cannot change its own code, its config or anything outside the state volume", async () => {
    const paths = ["/app/dist/src/cli/main.js", "/etc/warden/warden.config.json", "/tmp/probe", "/var/lib/warden/probe"];
    const script = `const fs = require("fs"); console.log(JSON.stringify(${JSON.stringify(paths)}.map((p) => { try { fs.writeFileSync(p, "x"); return "written"; } catch (e) { return e.code; } })))`;
    const results = JSON.parse(await docker(["exec", name, "node", "-e", script])) as string[];
    assert.deepEqual(results, ["EROFS", "EROFS", "EROFS", "written"]);
  });

  test("GET /healthz answers on the published port without a token", async () => {
    const r = await raw(`http://127.0.0.1:${port}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: "ok" });
  });

  test("without a token, or with a wrong one, /mcp is 401", async () => {
    const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const none = await raw(url, { method: "POST", headers, body: init });
    assert.equal(none.status, 401);
    const wrong = await raw(url, { method: "POST", headers: { ...headers, authorization: "Bearer not-the-token" }, body: init });
    assert.equal(wrong.status, 401);
    await assert.rejects(connect(url, "not-the-token"));
  });

  test("a Host the operator did not list is refused (DNS rebinding protection holds in the container)", async () => {
    const r = await raw(`http://127.0.0.1:${port}/healthz`, { headers: { host: `evil.example:${port}` } });
    assert.equal(r.status, 403);
  });

  test("an SDK client with the token lists word_stats and calls it through the published port", async () => {
    client = await connect(url, TEST_TOKEN);
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ["word_stats"],
    );
    assert.equal(tools[0]!.annotations?.readOnlyHint, true);
    const result = await client.callTool({ name: "word_stats", arguments: { text: "the cat and the hat", top: 1 } }, CallToolResultSchema);
    assert.notEqual(result.isError, true, JSON.stringify(result));
    assert.deepEqual(result.structuredContent, { words: 5, characters: 19, lines: 1, topWords: [{ word: "the", count: 2 }] });
  });

  test("the call is audited on the volume, with the token's name as actor", async () => {
    const text = await docker(["exec", name, "node", "-e", "process.stdout.write(require('fs').readFileSync('/var/lib/warden/audit.jsonl','utf8'))"]);
    const records = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { tool: string; actor: string; outcome: string });
    assert.ok(
      records.some((r) => r.tool === "word_stats" && r.actor === "ci"),
      text,
    );
  });

  test("docker stop shuts the server down cleanly on SIGTERM (exit 0, not killed after the grace period)", async () => {
    await client?.close().catch(() => {});
    client = undefined;
    await docker(["stop", "-t", "30", name], 60_000);
    assert.equal(await docker(["inspect", "--format", "{{.State.ExitCode}}", name]), "0");
  });
});
