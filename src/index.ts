/**
 * The package's programmatic surface (`import … from "mcp-warden"`): the
 * schemas operators and authors validate against, the stable error codes,
 * and audit verification. The server itself is the `warden` CLI.
 */
export { ERROR_CODES, WardenError, isErrorCode, type ErrorCode, type ErrorPayload } from "./errors.js";
export { ManifestSchema, RUNTIMES, type Manifest, type RuntimeKind } from "./manifest/schema.js";
export { ConfigSchema, type Config } from "./config/schema.js";
export { verifyAuditChain, type VerifyReport } from "./audit/index.js";
export { WARDEN_VERSION } from "./version.js";
