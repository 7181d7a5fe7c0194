/**
 * Approval of a container tool binds to the image ID (SPEC §2, §7), not the
 * tag: a tag can be rebuilt or retagged after approval, and the new image
 * would run under the old approval. This file is the one place the engine is
 * asked which image a tag names, at load and approval (readImageId) and at
 * every container start (pinnedImage).
 */
import type Dockerode from "dockerode";
import { WardenError } from "../../src/errors.js";
import { IMAGE_ID_UNKNOWN } from "../../src/manifest/image-id.js";
import type { DockerSandboxTool } from "../executor.js";
import { defaultDocker, engineCall } from "./engine.js";

/** Short: a load or a reload waits on it, and a missing engine answers at once anyway. */
const INSPECT_TIMEOUT_MS = 5_000;

let shared: Dockerode | undefined;

/** The engine's ID ("sha256:…") of the image `ref` names now. Throws E_SANDBOX_UNAVAILABLE when it cannot tell. */
export async function readImageId(ref: string, docker: Dockerode = (shared ??= defaultDocker())): Promise<string> {
  const info = (await engineCall(`inspect image ${ref}`, docker.getImage(ref).inspect(), INSPECT_TIMEOUT_MS)) as { Id?: unknown };
  if (typeof info.Id !== "string" || !/^sha256:[0-9a-f]{64}$/.test(info.Id)) throw new WardenError("E_SANDBOX_UNAVAILABLE", `the engine gave no image ID for ${ref}`);
  return info.Id;
}

/**
 * Checked at every container start: the tag must still name the image the
 * approval bound, else the call is refused (a rebuilt image is unreviewed
 * code). Returns the image ID to create the container from, so a retag
 * between this check and the create cannot swap the image either.
 * A tool without `imageId` was not loaded through the registry (direct
 * executor use in tests); the broker never runs a container tool without one.
 */
export async function pinnedImage(docker: Dockerode, tool: DockerSandboxTool): Promise<string> {
  if (!tool.image) throw new WardenError("E_SANDBOX_UNAVAILABLE", `tool ${tool.name} has no image`);
  if (tool.imageId === undefined) return tool.image;
  const now = await readImageId(tool.image, docker);
  if (tool.imageId === IMAGE_ID_UNKNOWN)
    throw new WardenError("E_NOT_APPROVED", `the image ID of ${tool.image} could not be read when ${tool.name} was loaded, so no approval can vouch for it; check the engine, then reload (or restart) warden`);
  if (now !== tool.imageId)
    throw new WardenError(
      "E_NOT_APPROVED",
      `the image ${tool.image} of ${tool.name} changed since it was approved (approved ${tool.imageId}, the engine now has ${now}); review it and run: warden approve ${tool.name}`,
    );
  return tool.imageId;
}
