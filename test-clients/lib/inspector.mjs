// MCP Inspector CLI (@modelcontextprotocol/inspector 2.x, `--cli`) against the real warden:
// list and call tools over stdio (warden started by the Inspector, command after `--`) and over
// Streamable HTTP with a bearer header; HTTP without a token, or with a wrong one, must fail.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { capture, pool } from "./exec.mjs";
import { inspectorPackage } from "./packages.mjs";
import { wardenCommand } from "./warden.mjs";

const SAMPLE = "the cat and the hat";

/**
 * @param {{ workspace: Awaited<ReturnType<typeof import("./workspace.mjs").createWorkspace>>, httpUrl: string }} ctx
 * @returns {Promise<Array<{ name: string, ok: boolean, detail: string }>>}
 */
export async function runInspectorChecks({ workspace, httpUrl }) {
  const { bin } = inspectorPackage();
  await mkdir(workspace.inspectorHome, { recursive: true });
  const env = inspectorEnv(workspace.inspectorHome);
  const warden = wardenCommand();
  const stdioServer = ["--", warden.node, ...warden.args, "serve", "--config", workspace.stdioConfigPath];
  const bearer = ["--header", `Authorization: Bearer ${workspace.token}`];
  const http = [httpUrl, "--transport", "http"];
  const inspect = (args) => capture(process.execPath, [bin, "--cli", "--format", "json", "-q", "--connect-timeout", "30000", ...args], { env, cwd: workspace.dir });

  const listCall = ["--method", "tools/list"];
  const wordCall = ["--method", "tools/call", "--tool-name", "word_stats", "--tool-arg", `text=${SAMPLE}`];
  const badInput = ["--method", "tools/call", "--tool-name", "word_stats", "--tool-arg", "top=3"];
  const failing = ["--method", "tools/call", "--tool-name", "test_error_handling"];
  const noAuth = ["--stored-auth-only"]; // CI: never start an interactive OAuth flow

  const stdioJobs = [
    ["stdio: tools/list shows every approved tool", () => inspect([...listCall, ...stdioServer]), expectTools(workspace.toolNames)],
    ["stdio: tools/call word_stats returns the validated output", () => inspect([...wordCall, ...stdioServer]), expectWordStats],
    ["stdio: a throwing tool comes back as isError E_TOOL_FAILED", () => inspect([...failing, ...stdioServer]), expectToolError("E_TOOL_FAILED")],
  ];
  const httpJobs = [
    ["http+bearer: tools/list shows every approved tool", () => inspect([...http, ...bearer, ...listCall]), expectTools(workspace.toolNames)],
    ["http+bearer: tools/call word_stats returns the validated output", () => inspect([...http, ...bearer, ...wordCall]), expectWordStats],
    ["http+bearer: invalid input to a tool with an outputSchema (E_INPUT_INVALID)", () => inspect([...http, ...bearer, ...badInput]), expectToolError("E_INPUT_INVALID")],
    ["http without Authorization is refused (401)", () => inspect([...http, ...noAuth, ...listCall]), expectRefused],
    ["http with a wrong bearer token is refused (401)", () => inspect([...http, ...noAuth, "--header", "Authorization: Bearer not-the-token", ...listCall]), expectRefused],
  ];
  // Two lanes (CI has 2 cores): the stdio checks one after another — each starts its own warden
  // on the stdio config, and one audit chain has one writer at a time — next to the HTTP checks.
  const lanes = await Promise.all([stdioJobs, httpJobs].map((jobs) => pool(jobs.map(([, run]) => run), 1)));
  return [stdioJobs, httpJobs].flatMap((jobs, lane) => jobs.map(([name, , judge], i) => ({ name, ...judge(lanes[lane][i]) })));
}

/** The Inspector keeps a catalog and OAuth state under $HOME; give it a private one. */
function inspectorEnv(home) {
  const env = { ...process.env, HOME: home, MCP_CATALOG_PATH: join(home, "mcp.json"), MCP_CLIENT_CONFIG_PATH: join(home, "client.json") };
  delete env.MCP_AUTO_OPEN_ENABLED;
  return env;
}

function parse(out) {
  for (const text of [out.stdout, out.stderr]) {
    const lines = text.trim().split("\n").reverse();
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        return JSON.parse(line);
      } catch {
        /* a log line that happens to start with { */
      }
    }
  }
  return undefined;
}

function describe(out) {
  const why = out.timedOut ? "timed out" : `exit ${out.code ?? out.signal}`;
  return `${why}; stdout: ${out.stdout.trim().slice(0, 400) || "(empty)"}; stderr: ${out.stderr.trim().slice(-400) || "(empty)"}`;
}

function expectTools(names) {
  return (out) => {
    const listed = parse(out)?.result?.tools?.map((t) => t.name) ?? [];
    const missing = names.filter((n) => !listed.includes(n));
    const wordStats = parse(out)?.result?.tools?.find((t) => t.name === "word_stats");
    const readOnly = wordStats?.annotations?.readOnlyHint === true;
    const ok = out.code === 0 && missing.length === 0 && readOnly;
    return { ok, detail: ok ? `${listed.length} tools; word_stats readOnlyHint=true` : `missing [${missing.join(", ")}], readOnlyHint=${readOnly}; ${describe(out)}` };
  };
}

function expectWordStats(out) {
  const result = parse(out)?.result;
  const s = result?.structuredContent;
  const text = result?.content?.find((c) => c.type === "text")?.text ?? "";
  const ok = out.code === 0 && result?.isError !== true && s?.words === 5 && s?.topWords?.[0]?.word === "the" && s.topWords[0].count === 2 && text.includes('"words":5');
  return { ok, detail: ok ? `words=5, top word "the"×2 (structuredContent + text)` : describe(out) };
}

function expectToolError(code) {
  return (out) => {
    const result = parse(out)?.result;
    const got = result?._meta?.["mcp-warden/error"]?.code;
    const text = result?.content?.[0]?.text ?? "";
    // SPEC §8: isError, one text block "CODE: message", the code in _meta, and no structuredContent
    // (the Inspector validates any structuredContent against the tool's outputSchema, even on errors).
    const ok = result?.isError === true && got === code && result?.structuredContent === undefined && text.startsWith(`${code}: `);
    return { ok, detail: ok ? `isError, _meta["mcp-warden/error"].code=${code}, no structuredContent` : `expected ${code}, got ${got}; ${describe(out)}` };
  };
}

/** The client must fail, with warden's own 401 message, and must not have listed anything. */
function expectRefused(out) {
  const body = `${out.stdout}\n${out.stderr}`;
  const error = parse(out)?.error;
  const ok = out.code !== 0 && !out.timedOut && !body.includes("word_stats") && /a valid bearer token is required/.test(body);
  return { ok, detail: ok ? `exit ${out.code}, ${error?.code ?? "error"}: warden answered 401` : describe(out) };
}
