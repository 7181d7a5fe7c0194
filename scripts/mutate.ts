/**
 * A small mutation run (issue 15, item 7): each mutation removes or weakens one
 * guard in a COPY of the tree, and the test files that cover that guard must
 * then fail. A surviving mutation is a guard no test would miss.
 *
 *   npm run mutate                 # every mutation, in sequence
 *   npm run mutate -- http. addr.  # only mutations whose id starts with one of these
 *
 * For each mutation: copy the tree (without node_modules and .git) into a temp
 * folder, symlink node_modules, apply the exact text replacement to the source,
 * rebuild the changed module there (TypeScript's transpileModule into the copied
 * dist/, so a mutant need not type-check), run only the listed test files with
 * the Node this script runs on, and count a non-zero exit (or a timeout) as
 * killed. The worktree itself is never modified. Needs a fresh `npm run build`.
 */
import { spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import ts from "typescript";
import { MUTATIONS, type Mutation } from "./mutations.js";

const ROOT = process.cwd();
const TEST_TIMEOUT_MS = 240_000;

interface Row {
  id: string;
  status: "killed" | "survived" | "timeout" | "stale";
  seconds: number;
  detail: string;
}

function applyEdits(source: string, m: Mutation): string {
  let out = source;
  for (const [from, to] of m.edits) {
    const first = out.indexOf(from);
    if (first < 0 || out.indexOf(from, first + 1) >= 0) throw new Error(`${m.id}: the original text must occur exactly once in ${m.file}: ${JSON.stringify(from.slice(0, 80))}`);
    out = out.slice(0, first) + to + out.slice(first + from.length);
  }
  return out;
}

function transpile(path: string, source: string): string {
  const config = ts.readConfigFile(join(ROOT, "tsconfig.json"), ts.sys.readFile).config as { compilerOptions: ts.CompilerOptions };
  const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, ROOT);
  return ts.transpileModule(source, { compilerOptions: { ...options, module: ts.ModuleKind.ESNext, sourceMap: false, declaration: false }, fileName: path }).outputText;
}

function runTests(cwd: string, files: string[]): Promise<{ code: number | null; timedOut: boolean; tail: string }> {
  return new Promise((resolve) => {
    const args = ["--no-node-snapshot", "--test", "--test-force-exit", "--test-concurrency=1", "--test-timeout=30000", "--test-reporter=tap", ...files.map((f) => join("dist", f.replace(/\.ts$/, ".js")))];
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    child.stdout.on("data", (d) => (out = (out + String(d)).slice(-200_000)));
    child.stderr.on("data", (d) => (out = (out + String(d)).slice(-200_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, TEST_TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, tail: out });
    });
  });
}

function firstFailure(output: string): string {
  // TAP prints a subtest before its suite: the first "not ok" is the innermost failing test.
  // A todo test's "not ok" fails nothing; a file-level line alone means the test names were lost (see MUTATE_LOGS).
  const lines = output.split("\n").filter((l) => /^\s*not ok \d+ - /.test(l) && !/ # TODO/.test(l));
  const line = lines.find((l) => !/ - dist\//.test(l)) ?? lines[0];
  return (line ?? "").trim().replace(/^not ok \d+ - /, "").slice(0, 90);
}

async function runOne(m: Mutation): Promise<Row> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), "warden-mutant-"));
  try {
    cpSync(ROOT, dir, { recursive: true, filter: (src) => !/\/(node_modules|\.git)$/.test(src) && !relative(ROOT, src).startsWith(".tmp") });
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
    const original = readFileSync(join(ROOT, m.file), "utf8");
    let mutated: string;
    try {
      mutated = applyEdits(original, m);
    } catch (err) {
      return { id: m.id, status: "stale", seconds: 0, detail: (err as Error).message };
    }
    writeFileSync(join(dir, m.file), mutated);
    writeFileSync(join(dir, "dist", m.file.replace(/\.ts$/, ".js")), transpile(m.file, mutated));
    const result = await runTests(dir, m.tests);
    if (process.env.MUTATE_LOGS) writeFileSync(join(process.env.MUTATE_LOGS, `${m.id.replace(/[^\w.-]+/g, "_")}.log`), result.tail);
    const seconds = Math.round((Date.now() - started) / 1000);
    if (result.timedOut) return { id: m.id, status: "timeout", seconds, detail: "tests did not finish (counted as killed)" };
    if (result.code === 0) return { id: m.id, status: "survived", seconds, detail: "" };
    return { id: m.id, status: "killed", seconds, detail: firstFailure(result.tail) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const chosen = MUTATIONS.filter((m) => only.length === 0 || only.some((p) => m.id.startsWith(p)));
  // Baseline: each (file, tests) pair once with the file rebuilt unmutated, the same way. A red baseline
  // (a broken copy, a rebuild that does not load, a flaky test) would count every mutation as killed.
  const groups = new Map<string, Mutation>();
  for (const m of chosen) groups.set(`${m.file} ${m.tests.join(" ")}`, { ...m, id: `baseline:${m.file}`, edits: [] });
  for (const base of groups.values()) {
    const row = await runOne(base);
    console.log(`${row.status === "survived" ? "green" : "RED"}    ${base.id} (${base.tests.length} test files) ${row.seconds}s ${row.detail}`);
    if (row.status !== "survived") {
      console.error(`the baseline of ${base.file} is not green: fix it before reading any mutation result`);
      process.exitCode = 2;
      return;
    }
  }
  const rows: Row[] = [];
  for (const m of chosen) {
    const row = await runOne(m);
    rows.push(row);
    console.log(`${row.status.padEnd(8)} ${row.id.padEnd(34)} ${String(row.seconds).padStart(4)}s  ${row.detail}`);
  }
  console.log("\n| mutation | what it removes | status | first failing test |\n|---|---|---|---|");
  for (const row of rows) {
    const m = chosen.find((x) => x.id === row.id)!;
    console.log(`| ${row.id} | ${m.what} | ${row.status} | ${row.detail.replace(/\|/g, "\\|")} |`);
  }
  const survived = rows.filter((r) => r.status === "survived" || r.status === "stale");
  console.log(`\n${rows.length - survived.length}/${rows.length} killed${survived.length ? `; SURVIVED or stale: ${survived.map((r) => r.id).join(", ")}` : ""}`);
  process.exitCode = survived.length ? 1 : 0;
}

await main();
