import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rename, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { computeToolDigest, loadTool, MAX_TOOL_BYTES, MAX_TOOL_FILES, validateToolDir } from "../../src/manifest/index.js";
import { ENTRY_SOURCE, tempDir, toolDir, validManifest, writeFiles } from "./fixture.js";

const FILES = {
  "manifest.json": validManifest(),
  "index.js": ENTRY_SOURCE,
  "lib/helper.js": "export const x = 1;\n",
  "node_modules/dep/index.js": "export default 2;\n",
  ".hidden": "dotfiles count too\n",
};

async function expectRefused(dir: string, says: RegExp): Promise<void> {
  await assert.rejects(computeToolDigest(dir), (err: Error & { code?: string }) => {
    assert.equal(err.code, "E_MANIFEST");
    assert.match(err.message, says);
    return true;
  });
}

describe("tool digest (SPEC §2, §7)", () => {
  test("the same folder gives the same digest, in the sha256:<hex> form", async () => {
    const dir = await toolDir(FILES);
    const a = await computeToolDigest(dir);
    const b = await computeToolDigest(dir);
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.digest, b.digest);
  });

  test("every file is hashed, node_modules and dotfiles included, as sorted POSIX paths", async () => {
    const { files } = await computeToolDigest(await toolDir(FILES));
    assert.deepEqual(files, [".hidden", "index.js", "lib/helper.js", "manifest.json", "node_modules/dep/index.js"]);
  });

  test("the digest does not depend on the order files were created in", async () => {
    const reversed = Object.fromEntries(Object.entries(FILES).reverse());
    const a = await computeToolDigest(await toolDir(FILES));
    const b = await computeToolDigest(await toolDir(reversed));
    assert.equal(a.digest, b.digest);
  });

  test("the digest does not depend on where the folder is", async () => {
    const a = await computeToolDigest(await toolDir(FILES));
    const parent = await tempDir();
    await writeFiles(join(parent, "deep", "tool"), FILES);
    assert.equal((await computeToolDigest(join(parent, "deep", "tool"))).digest, a.digest);
  });

  test("changing one byte of any file changes the digest", async () => {
    const dir = await toolDir(FILES);
    const before = (await computeToolDigest(dir)).digest;
    for (const file of Object.keys(FILES)) {
      const path = join(dir, file);
      const original = await readFile(path);
      const changed = Buffer.from(original);
      changed[0] = changed[0]! ^ 1;
      await writeFile(path, changed);
      assert.notEqual((await computeToolDigest(dir)).digest, before, `a change to ${file} must change the digest`);
      await writeFile(path, original);
    }
    assert.equal((await computeToolDigest(dir)).digest, before);
  });

  test("adding a file, even an empty one, changes the digest", async () => {
    const dir = await toolDir(FILES);
    const before = (await computeToolDigest(dir)).digest;
    await writeFile(join(dir, "extra.txt"), "");
    assert.notEqual((await computeToolDigest(dir)).digest, before);
  });

  test("renaming a file changes the digest", async () => {
    const dir = await toolDir(FILES);
    const before = (await computeToolDigest(dir)).digest;
    await rename(join(dir, "lib/helper.js"), join(dir, "lib/helper2.js"));
    assert.notEqual((await computeToolDigest(dir)).digest, before);
  });

  test("moving bytes from one file to the next changes the digest (lengths frame each file)", async () => {
    const a = await computeToolDigest(await toolDir({ a: "xy", b: "" }));
    const b = await computeToolDigest(await toolDir({ a: "x", b: "y" }));
    assert.notEqual(a.digest, b.digest);
  });

  test("the image ID hook binds a container image into the digest", async () => {
    const dir = await toolDir(FILES);
    const plain = await computeToolDigest(dir);
    const one = await computeToolDigest(dir, { imageId: "sha256:aaa" });
    const two = await computeToolDigest(dir, { imageId: "sha256:bbb" });
    assert.notEqual(one.digest, plain.digest);
    assert.notEqual(one.digest, two.digest);
  });

  test("loadTool reports the same digest and file list", async () => {
    const dir = await toolDir(FILES);
    const tool = await loadTool(dir);
    assert.deepEqual({ digest: tool.digest, files: tool.files }, await computeToolDigest(dir));
  });

  test("a symlink to a file outside the folder is refused, not followed", async () => {
    const dir = await toolDir(FILES);
    await symlink("/etc/hostname", join(dir, "leak.txt"));
    await expectRefused(dir, /leak\.txt.*symbolic link/);
  });

  test("a symlinked directory is refused", async () => {
    const dir = await toolDir(FILES);
    await symlink("/etc", join(dir, "etc"));
    await expectRefused(dir, /etc.*symbolic link/);
  });

  test("an entry that is a symlink (even inside the folder) is refused by loadTool", async () => {
    const dir = await toolDir({ "manifest.json": validManifest(), "real.js": ENTRY_SOURCE });
    await symlink("real.js", join(dir, "index.js"));
    await assert.rejects(loadTool(dir), (err: Error & { code?: string }) => {
      assert.equal(err.code, "E_MANIFEST");
      assert.match(err.message, /index\.js: \(root\): is a symbolic link/);
      assert.match(err.message, /manifest\.json: entry: entry file "index\.js" does not exist/);
      return true;
    });
  });

  test("a FIFO in the folder is refused (reading it would hang the loader)", async () => {
    const dir = await toolDir(FILES);
    execFileSync("mkfifo", [join(dir, "pipe")]);
    await expectRefused(dir, /pipe.*not a regular file/);
  });

  test(`a folder with more than ${MAX_TOOL_FILES} files is refused`, async () => {
    const dir = await toolDir({ "manifest.json": validManifest(), "index.js": ENTRY_SOURCE });
    await mkdir(join(dir, "many"));
    await Promise.all(Array.from({ length: MAX_TOOL_FILES }, (_, i) => writeFile(join(dir, "many", `f${i}`), "")));
    await expectRefused(dir, /more than 1000 files/);
  });

  test(`a folder with more than ${MAX_TOOL_FILES} directories is refused`, async () => {
    const dir = await toolDir({ "manifest.json": validManifest(), "index.js": ENTRY_SOURCE });
    await Promise.all(Array.from({ length: MAX_TOOL_FILES + 1 }, (_, i) => mkdir(join(dir, `d${i}`))));
    await expectRefused(dir, /more than 1000 directories/);
  });

  test("validateToolDir reports a refused folder once, without a bogus missing-manifest problem", async () => {
    const dir = await toolDir({ "manifest.json": validManifest(), "index.js": ENTRY_SOURCE, "big.bin": Buffer.alloc(MAX_TOOL_BYTES) });
    const { tool, problems } = await validateToolDir(dir);
    assert.equal(tool, null);
    assert.deepEqual(problems.map((p) => p.message.split(";")[0]), ["the tool folder is larger than 16 MiB"]);
  });

  test("a folder larger than 16 MiB is refused", async () => {
    const dir = await toolDir({ "manifest.json": validManifest(), "index.js": ENTRY_SOURCE });
    await writeFile(join(dir, "a.bin"), Buffer.alloc(MAX_TOOL_BYTES / 2));
    await writeFile(join(dir, "b.bin"), Buffer.alloc(MAX_TOOL_BYTES / 2));
    await expectRefused(dir, /larger than 16 MiB/);
  });

  test("a folder of exactly the size limit is accepted", async () => {
    const dir = await toolDir({ "a.bin": Buffer.alloc(MAX_TOOL_BYTES - 10), b: "0123456789" });
    assert.deepEqual((await computeToolDigest(dir)).files, ["a.bin", "b"]);
  });
});

