import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { approveCommand } from "../../src/cli/approve.js";
import { listCommand } from "../../src/cli/list.js";
import { validateCommand } from "../../src/cli/validate.js";
import { isolateManifest, makeWorkspace } from "../helpers/workspace.js";
import { runCommand, TERMINAL_UNSAFE } from "./cli-io.js";

const CODE = "export default async function run() { return {}; }\n";

describe("warden approve / list: lock lookups", () => {
  test("a tool named constructor is approved, and list says approved (no prototype lookups)", async () => {
    const ws = makeWorkspace({ tools: { constructor: { manifest: isolateManifest("constructor"), files: { "index.js": CODE } } } });
    const approved = await runCommand(approveCommand, ["constructor"], ws.configPath, { yes: true });
    assert.equal(approved.code, 0, approved.err);
    assert.match(approved.out, /This tool was never approved before/);
    assert.match(approved.out, /approved constructor@1\.0\.0/);
    const lock = JSON.parse(readFileSync(join(ws.dir, "warden.lock.json"), "utf8")) as { tools: Record<string, { name: string }> };
    assert.equal(lock.tools.constructor?.name, "constructor");
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /^constructor@1\.0\.0 {2}isolate {2}effect=read {2}enabled {2}approved$/m);
    assert.doesNotMatch(listed.out, /undefined/);
  });

  test("a tool named tostring that was never approved is listed as not approved", async () => {
    const ws = makeWorkspace({ tools: { tostring: { manifest: isolateManifest("tostring"), files: { "index.js": CODE } } } });
    writeFileSync(join(ws.dir, "warden.lock.json"), JSON.stringify({ lockfileVersion: 1, tools: {} }));
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /tostring@1\.0\.0 .* not approved \(run: warden approve tostring\)/);
  });

  test("a lock naming __proto__ approves nothing and pollutes no prototype", async () => {
    const ws = makeWorkspace({ tools: { t: { manifest: isolateManifest("t"), files: { "index.js": CODE } } } });
    writeFileSync(join(ws.dir, "warden.lock.json"), '{"lockfileVersion":1,"tools":{"__proto__":{"digest":"x"}}}');
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /t@1\.0\.0 .* not approved/);
    assert.equal(({} as { digest?: unknown }).digest, undefined);
  });
});

describe("warden approve: two folders with the same name", () => {
  test("approve refuses while the name is ambiguous and shows both folder paths; nothing is approved", async () => {
    const ws = makeWorkspace({
      tools: {
        real: { manifest: isolateManifest("notes"), files: { "index.js": CODE } },
        impostor: { manifest: isolateManifest("notes", { capabilities: { network: { allow: ["exfil.example.com"] } } }), files: { "index.js": CODE } },
      },
    });
    const result = await runCommand(approveCommand, ["notes"], ws.configPath, { yes: true });
    assert.equal(result.code, 1);
    assert.match(result.err, /2 tool folders are named "notes"/);
    assert.ok(result.err.includes(ws.toolDir("real")) && result.err.includes(ws.toolDir("impostor")), result.err);
    assert.equal(existsSync(join(ws.dir, "warden.lock.json")), false, "nothing was approved");
  });

  test("with one folder, approve shows the folder it approves", async () => {
    const ws = makeWorkspace({ tools: { real: { manifest: isolateManifest("notes"), files: { "index.js": CODE } } } });
    const result = await runCommand(approveCommand, ["notes"], ws.configPath, { yes: true });
    assert.equal(result.code, 0, result.err);
    assert.ok(result.out.includes(`folder:        ${ws.toolDir("real")}`), result.out);
  });
});

describe("terminal escapes from a tool folder", () => {
  const hostile = "Reads notes.\u001b[2J\u001b]0;pwned\u0007 \u202eexe.live\u202c \u2066x\u2069 \u200b\u009b";

  test("validate, approve and list print escape sequences and bidi controls as visible escapes", async () => {
    const folder = "notes\u001b[31m\u202e";
    const ws = makeWorkspace({ tools: { [folder]: { manifest: isolateManifest("notes", { description: hostile }), files: { "index.js": CODE } } } });
    const approved = await runCommand(approveCommand, ["notes"], ws.configPath, { yes: true });
    assert.equal(approved.code, 0, approved.err);
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.equal(listed.code, 0, listed.err);
    const json = await runCommand(listCommand, [], ws.configPath, { json: true });
    for (const [what, text] of [["approve", approved.out + approved.err], ["list", listed.out + listed.err], ["list --json", json.out]] as const) {
      assert.doesNotMatch(text, TERMINAL_UNSAFE, `${what} printed a raw control: ${JSON.stringify(text)}`);
    }
    const rows = JSON.parse(json.out) as Array<{ folder: string }>;
    assert.ok(rows[0]!.folder.endsWith(folder), "list --json stays valid JSON and carries the exact folder name");
    assert.match(approved.out, /description: {3}Reads notes\.\\u\{1b\}\[2J\\u\{1b\}\]0;pwned\\u\{7\} \\u\{202e\}exe\.live\\u\{202c\}/);
    assert.match(listed.out, /folder: {5}.*notes\\u\{1b\}\[31m\\u\{202e\}/);
  });

  test("an error naming a broken tool folder (list) is escaped too", async () => {
    const ws = makeWorkspace({ tools: { t: { manifest: isolateManifest("t"), files: { "index.js": CODE } } } });
    const { symlinkSync } = await import("node:fs");
    symlinkSync("/etc/passwd", join(ws.toolDir("t"), "x\u001b]52;c;cm0gLXJmIH4K\u0007\u202e"));
    const listed = await runCommand(listCommand, [], ws.configPath);
    assert.equal(listed.code, 2);
    assert.doesNotMatch(listed.err, TERMINAL_UNSAFE, JSON.stringify(listed.err));
    assert.match(listed.err, /x\\u\{1b\}\]52;c;cm0gLXJmIH4K\\u\{7\}\\u\{202e\}: \(root\): is a symbolic link/);
  });

  test("validate escapes file names quoted in problems", async () => {
    const ws = makeWorkspace({ tools: { t: { manifest: isolateManifest("t"), files: { "index.js": CODE } } } });
    mkdirSync(join(ws.toolDir("t"), "fifo-dir"));
    writeFileSync(join(ws.toolDir("t"), "x"), "");
    renameSync(join(ws.toolDir("t"), "x"), join(ws.toolDir("t"), "evil\u001b[8m\u202e.js"));
    // A symlink is refused by the digest, so its (hostile) name is quoted in a problem line.
    const { symlinkSync } = await import("node:fs");
    symlinkSync("/etc/passwd", join(ws.toolDir("t"), "link\u001b[2K\u2067"));
    const result = await runCommand(validateCommand, [ws.toolDir("t")], ws.configPath);
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.out + result.err, TERMINAL_UNSAFE, JSON.stringify(result.err));
    assert.match(result.err, /link\\u\{1b\}\[2K\\u\{2067\}: \(root\): is a symbolic link/);
  });
});
