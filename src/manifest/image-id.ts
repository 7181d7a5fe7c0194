/**
 * Reading a container tool's image ID from the engine, for the digest
 * (digest.ts, `imageId`). The engine code stays in sandboxes/docker (the
 * only place that talks to Docker); it is imported on first use, so a server
 * with isolate tools only never loads it.
 */
export type ImageIdReader = (image: string) => Promise<string>;

export const readEngineImageId: ImageIdReader = async (image) => (await import("../../sandboxes/docker/image-id.js")).readImageId(image);

/**
 * Bound into the digest when the engine cannot say which image a tag names:
 * no approval ever carries it (`warden approve` refuses without an image ID),
 * so the tool is not approved rather than approved for an unknown image.
 */
export const IMAGE_ID_UNKNOWN = "unknown";
