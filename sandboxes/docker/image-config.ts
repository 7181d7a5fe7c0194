/**
 * What a tool image declares that changes how its container is created: the
 * command it would run (the gate of gate.ts replaces the entrypoint, so the
 * image's own ENTRYPOINT + CMD become the gate's arguments), and its VOLUME
 * lines (covered by small noexec tmpfs mounts, see container-spec.ts).
 */
import type Dockerode from "dockerode";
import { posix } from "node:path";
import { WardenError } from "../../src/errors.js";
import { engineCall } from "./engine.js";

export interface ToolImageConfig {
  /** The image id the inspection saw: the container is created from exactly this image. */
  id: string;
  entrypoint: string[];
  cmd: string[];
  /** Paths of the image's VOLUME lines. */
  volumes: string[];
}

export async function inspectToolImage(docker: Dockerode, ref: string): Promise<ToolImageConfig> {
  const info = await engineCall(`inspect image ${ref}`, docker.getImage(ref).inspect());
  const config = info.Config ?? ({} as Dockerode.ImageInspectInfo["Config"]);
  const volumes = Object.keys(config.Volumes ?? {});
  for (const path of volumes)
    if (!path.startsWith("/") || posix.normalize(path) === "/" || /^\/(proc|sys|dev)(\/|$)/.test(posix.normalize(path)))
      throw new WardenError(
        "E_SANDBOX_UNAVAILABLE",
        `image ${ref} declares VOLUME ${JSON.stringify(path)}, which cannot be covered by a tmpfs; remove the VOLUME line from its Dockerfile`,
      );
  return { id: info.Id, entrypoint: toArgv(config.Entrypoint), cmd: toArgv(config.Cmd), volumes: volumes.map((p) => posix.normalize(p)) };
}

function toArgv(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string" && value.length > 0) return ["/bin/sh", "-c", value];
  return [];
}
