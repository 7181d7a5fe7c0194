import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { MANIFEST_SCHEMA_ID, MANIFEST_SCHEMA_PATH, manifestJsonSchema, manifestJsonSchemaText } from "../../src/manifest/json-schema-export.js";
import { repoDir, validManifest } from "./fixture.js";

/** The shipped schema, compiled the way an editor or CI would. */
async function shippedValidator() {
  const schema = JSON.parse(await readFile(join(repoDir(), MANIFEST_SCHEMA_PATH), "utf8"));
  return new Ajv2020({ strict: false, allErrors: true }).compile(schema);
}

describe("schema/manifest.schema.json (editor completion, SPEC §2)", () => {
  test("the committed file equals a fresh generation from ManifestSchema", async () => {
    const committed = await readFile(join(repoDir(), MANIFEST_SCHEMA_PATH), "utf8");
    assert.equal(committed, manifestJsonSchemaText(), "run `npm run build` (node dist/scripts/gen-schema.js) and commit schema/manifest.schema.json");
  });

  test("it carries $id, title and descriptions", () => {
    const schema = manifestJsonSchema() as { $id: string; title: string; $schema: string; properties: Record<string, { description?: string }> };
    assert.equal(schema.$id, MANIFEST_SCHEMA_ID);
    assert.equal(schema.$schema, "https://json-schema.org/draft/2020-12/schema");
    assert.match(schema.title, /manifest/);
    assert.match(schema.properties.effect?.description ?? "", /read, write or destructive/);
  });

  test("a valid manifest validates against it", async () => {
    const validate = await shippedValidator();
    assert.equal(validate(validManifest()), true, JSON.stringify(validate.errors));
    const container = { ...validManifest(), runtime: "container", image: "warden-tools/x:1" } as Record<string, unknown>;
    delete container.entry;
    assert.equal(validate(container), true, JSON.stringify(validate.errors));
  });

  test("the example manifests validate against it", async () => {
    const validate = await shippedValidator();
    for (const name of ["word_stats", "text_summary", "count_slowly"]) {
      const manifest = JSON.parse(await readFile(join(repoDir(), "examples", "tools", name, "manifest.json"), "utf8"));
      assert.equal(validate(manifest), true, `${name}: ${JSON.stringify(validate.errors)}`);
    }
  });

  test("an unknown key fails, at the top and nested", async () => {
    const validate = await shippedValidator();
    assert.equal(validate({ ...validManifest(), capabilites: {} }), false);
    assert.ok(validate.errors?.some((e) => e.keyword === "additionalProperties" && (e.params as { additionalProperty?: string }).additionalProperty === "capabilites"));
    const nested = validManifest();
    (nested.limits as Record<string, unknown>).cpu = 1;
    assert.equal(validate(nested), false);
  });

  test("an isolate manifest without entry, or a container without image, fails", async () => {
    const validate = await shippedValidator();
    const noEntry = validManifest();
    delete noEntry.entry;
    assert.equal(validate(noEntry), false);
    const noImage = { ...validManifest(), runtime: "container" } as Record<string, unknown>;
    delete noImage.entry;
    assert.equal(validate(noImage), false);
  });
});

describe("scripts/gen-schema --check", () => {
  test("exits 0 when the committed schema is current", async () => {
    const { execFileSync } = await import("node:child_process");
    const { fileURLToPath } = await import("node:url");
    const script = fileURLToPath(new URL("../../scripts/gen-schema.js", import.meta.url));
    execFileSync(process.execPath, [script, "--check"], { stdio: "pipe" });
  });
});
