export { CheckpointSchema, checkpointLine, checkpointSignatureValid, signCheckpoint, type Checkpoint } from "./checkpoint.js";
export { checkpointHealth, startCheckpointer, type CheckpointConfig, type Checkpointer, type CheckpointerOptions } from "./checkpointer.js";
export { resolveCheckpointPaths } from "./config-paths.js";
export { generateSigningKey, loadSigningKey, parsePublicKey, publicKeyLine, type GeneratedKey } from "./keys.js";
export { formatCheckpointReport, verifyWithCheckpoints, type CheckpointVerifyReport } from "./verify-checkpoints.js";
