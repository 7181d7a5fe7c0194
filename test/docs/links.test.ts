import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { repoRoot } from "../helpers/paths.js";
import { checkLinks, documentationFiles, headingAnchors, relativeLinks } from "./markdown-links.js";

/** A throw-away repository: { relative path: content }. */
async function fakeRepo(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "warden-links-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, ".."), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

describe("documentation links resolve inside the repository", () => {
  test("every relative link in README.md and docs/**/*.md names an existing file inside the repo", () => {
    const root = repoRoot();
    const files = documentationFiles(root);
    // Not vacuous: the README and the reference pages are among the checked files, and they do link.
    for (const must of ["README.md", "docs/README.md", "docs/manifest.md", "docs/config.md", "docs/cli.md", "docs/errors.md", "docs/audit.md", "docs/spec-notes.md"])
      assert.ok(files.includes(must), `${must} is missing (checked: ${files.join(", ")})`);
    const linked = files.reduce((n, f) => n + relativeLinks(readText(root, f)).length, 0);
    assert.ok(linked >= 30, `only ${linked} relative links found; the parser is probably broken`);
    const problems = checkLinks(root, files);
    assert.deepEqual(
      problems.map((p) => `${p.file}:${p.line}: ${p.target} ${p.problem}`),
      [],
      "fix these links: every link must resolve inside the repository",
    );
  });

  test("the README links the reference pages, not a contract outside the repository", () => {
    const targets = relativeLinks(readText(repoRoot(), "README.md")).map((l) => l.target.split("#")[0]);
    for (const page of ["docs/README.md", "docs/manifest.md", "docs/config.md", "docs/cli.md", "docs/errors.md", "docs/audit.md"])
      assert.ok(targets.includes(page), `README.md does not link ${page}`);
    assert.ok(!targets.some((t) => t!.includes("SPEC.md")), "README.md still links SPEC.md");
  });
});

describe("the link checker", () => {
  test("reports a missing file, a link out of the repo, an absolute path and a dead anchor; accepts the good ones", async () => {
    const root = await fakeRepo({
      "README.md": [
        "# Title",
        "[spec](../shared/SPEC.md) [gone](docs/nope.md) [ok](docs/a.md) [dir](docs)",
        "[abs](/etc/passwd) [web](https://example.com/x.md) [mail](mailto:a@b.c)",
        "[anchor ok](docs/a.md#some-heading) [anchor bad](docs/a.md#nothing) [self](#title)",
        "![img](docs/missing.png) [ref]: docs/also-missing.md",
        "[title](docs/a.md \"a title\") [angle](<docs/a.md>) [sneaky](docs/../../outside.md)",
      ].join("\n"),
      "docs/a.md": "## Some heading\n\n[back](../README.md) [sibling](b.md)\n",
    });
    const problems = checkLinks(root, documentationFiles(root)).map((p) => `${p.file}:${p.line} ${p.target}: ${p.problem}`);
    assert.deepEqual(problems.sort(), [
      "README.md:2 ../shared/SPEC.md: points outside the repository",
      "README.md:2 docs/nope.md: does not exist",
      "README.md:3 /etc/passwd: is an absolute path; write it relative to the file",
      "README.md:4 docs/a.md#nothing: has no heading for the anchor #nothing",
      "README.md:5 docs/missing.png: does not exist",
      "README.md:6 docs/../../outside.md: points outside the repository",
      "docs/a.md:3 b.md: does not exist",
    ]);
  });

  test("a reference definition on its own line is checked", async () => {
    const root = await fakeRepo({ "README.md": "see [the spec][spec]\n\n[spec]: ../shared/SPEC.md\n" });
    assert.deepEqual(
      checkLinks(root, ["README.md"]).map((p) => p.problem),
      ["points outside the repository"],
    );
  });

  test("a symlink inside the repo that leads out of it is refused", async () => {
    const outside = await fakeRepo({ "SPEC.md": "# outside\n" });
    const root = await fakeRepo({ "README.md": "[spec](docs/SPEC.md)\n", "docs/x.md": "" });
    await symlink(join(outside, "SPEC.md"), join(root, "docs", "SPEC.md"));
    assert.deepEqual(
      checkLinks(root, ["README.md"]).map((p) => p.problem),
      ["is a link that leads outside the repository"],
    );
  });

  test("links in fenced code blocks and inline code are not links", () => {
    const text = ["`[x](nope.md)` and [y](yes.md)", "```md", "[z](nope2.md)", "```", "~~~", "[w](nope3.md)", "~~~"].join("\n");
    assert.deepEqual(relativeLinks(text), [{ line: 1, target: "yes.md" }]);
  });

  test("heading anchors follow GitHub's rules", () => {
    const anchors = headingAnchors("# `warden list` — tools\n## E_DISABLED\n## Limits (defaults)\n## Limits (defaults)\n```\n# not a heading\n```\n");
    assert.deepEqual([...anchors], ["warden-list--tools", "e_disabled", "limits-defaults", "limits-defaults-1"]);
  });
});

function readText(root: string, file: string): string {
  return readFileSync(join(root, file), "utf8");
}
