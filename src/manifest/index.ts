/** Tool plugins: load and validate manifest.json, compute the digest approvals bind to (SPEC §2, §7). */
export {
  ManifestSchema,
  type Manifest,
  type Limits,
  LIMIT_DEFAULTS,
  LIMIT_MAXIMA,
  EffectSchema,
  type Effect,
} from "./schema.js";
export { type ManifestProblem, formatZodProblems, formatJsonPath, formatProblemLines } from "./problems.js";
export { type LoadedTool, type LoadOptions, loadTool, validateToolDir } from "./load.js";
export { readEngineImageId, IMAGE_ID_UNKNOWN, type ImageIdReader } from "./image-id.js";
export { computeToolDigest, MAX_TOOL_FILES, MAX_TOOL_BYTES, type DigestOptions } from "./digest.js";
export { compileJsonSchema, type SchemaCheck } from "./json-schema.js";
