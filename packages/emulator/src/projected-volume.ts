import { randomInt } from "node:crypto";
import { chmod, mkdir, readlink, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubernetesApi } from "./kubernetes.js";

/**
 * A token and when it expires, as a projected volume source produces them.
 *
 * @example
 * ```ts
 * const minted: ProjectedToken = { token, expiresAt: new Date(Date.now() + 3600_000) };
 * ```
 */
export interface ProjectedToken {
  token: string;
  expiresAt: Date;
}

/**
 * Mints through an emulated API server, as the kubelet does for a `serviceAccountToken` projection.
 *
 * @example
 * ```ts
 * const mint: ServiceAccountTokenProjection = { kubernetes, namespace: "prod", name: "billing", expirationSeconds: 600 };
 * ```
 */
export interface ServiceAccountTokenProjection {
  kubernetes: Pick<KubernetesApi, "mintServiceAccountToken">;
  namespace: string;
  name: string;
  /** Defaults to the API audiences (the kubelet's default when `audience` is empty). */
  audiences?: readonly string[];
  /** Defaults to 3600, the projection's default. */
  expirationSeconds?: number;
}

/**
 * Options of {@link startProjectedVolume}.
 *
 * @example
 * ```ts
 * const options: ProjectedVolumeOptions = { directory: "/tmp/sa", mint: { kubernetes, namespace: "prod", name: "billing" } };
 * ```
 */
export interface ProjectedVolumeOptions {
  /** The volume's mount directory (created if missing). */
  directory: string;
  /** The projected file name (the projection's `path`). Defaults to `token`. */
  fileName?: string;
  /** Where tokens come from: a function, or a service account of an emulated cluster. */
  mint: (() => Promise<ProjectedToken>) | ServiceAccountTokenProjection;
  /** File mode of the token file. Defaults to `0o644`, the volume's `defaultMode`. */
  mode?: number;
}

/**
 * A projected service-account token volume that rotates its token as the kubelet does.
 *
 * @example
 * ```ts
 * const volume: ProjectedVolume = await startProjectedVolume({ directory, mint });
 * await volume.rotate();
 * await volume.close();
 * ```
 */
export interface ProjectedVolume {
  /** `directory/fileName`: the unresolved path workloads read (`AZURE_FEDERATED_TOKEN_FILE`). */
  readonly path: string;
  /** Number of rotations after the first write. */
  readonly rotations: number;
  /** The token currently projected. */
  readonly token: string;
  /** Mints a new token and swaps it in now, by the same atomic rename. */
  rotate(): Promise<void>;
  /** Stops the rotation timer and waits for a rotation under way. Files stay in place. */
  close(): Promise<void>;
}

const DATA_DIR = "..data";
const NEW_DATA_DIR = "..data_tmp";
// The kubelet refreshes a projected token once it is older than 80% of its lifetime.
const ROTATE_AT = 0.8;
const RETRY_MILLISECONDS = 1000;
// Keeps a source that hands out already-expired tokens from spinning the writer.
const MIN_DELAY_MILLISECONDS = 100;
const MAX_TIMER_MILLISECONDS = 2 ** 31 - 1;

function pad(value: number, width = 2): string {
  return String(value).padStart(width, "0");
}

/** `..2006_01_02_15_04_05.` in UTC, the prefix the AtomicWriter gives `os.MkdirTemp`. */
function timestampPrefix(now: Date): string {
  return `..${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(
    now.getUTCHours(),
  )}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}.`;
}

async function newTimestampDirectory(directory: string): Promise<string> {
  for (;;) {
    // Go's MkdirTemp appends a random decimal number to the pattern.
    const name = `${timestampPrefix(new Date())}${randomInt(0, 2 ** 32)}`;
    try {
      await mkdir(join(directory, name), { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw error;
    }
    await chmod(join(directory, name), 0o755);
    return name;
  }
}

async function readlinkOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * The kubelet's AtomicWriter for a one-file payload: write into a fresh timestamped directory,
 * make sure `fileName -> ..data/fileName` exists, point `..data_tmp` at the new directory, rename
 * it over `..data` (atomic), then remove the previous timestamped directory.
 */
async function atomicWrite(
  directory: string,
  fileName: string,
  content: string,
  mode: number,
): Promise<void> {
  const dataPath = join(directory, DATA_DIR);
  const oldTimestampDir = await readlinkOrUndefined(dataPath);
  const timestampDir = await newTimestampDirectory(directory);
  const filePath = join(directory, timestampDir, fileName);
  await writeFile(filePath, content, { mode });
  await chmod(filePath, mode);
  const visiblePath = join(directory, fileName);
  if ((await readlinkOrUndefined(visiblePath)) === undefined) {
    await symlink(join(DATA_DIR, fileName), visiblePath);
  }
  const newDataPath = join(directory, NEW_DATA_DIR);
  try {
    await symlink(timestampDir, newDataPath);
  } catch (error) {
    await rm(join(directory, timestampDir), { recursive: true, force: true });
    throw error;
  }
  try {
    await rename(newDataPath, dataPath);
  } catch (error) {
    await unlink(newDataPath).catch(() => undefined);
    await rm(join(directory, timestampDir), { recursive: true, force: true });
    throw error;
  }
  if (oldTimestampDir) await rm(join(directory, oldTimestampDir), { recursive: true, force: true });
}

function tokenSource(mint: ProjectedVolumeOptions["mint"]): () => Promise<ProjectedToken> {
  if (typeof mint === "function") return mint;
  return () =>
    mint.kubernetes.mintServiceAccountToken({
      namespace: mint.namespace,
      name: mint.name,
      ...(mint.audiences ? { audiences: mint.audiences } : {}),
      expirationSeconds: mint.expirationSeconds ?? 3600,
    });
}

/**
 * Projects a service-account token into `directory` laid out exactly as the kubelet does
 * (`token -> ..data/token`, `..data -> ..2026_11_26_04_36_45.123456789/`), and rotates it at
 * 80% of its lifetime, or on demand, by an atomic rename of the `..data` symlink.
 *
 * @example
 * ```ts
 * const volume = await startProjectedVolume({
 *   directory: "/tmp/azure-identity-token",
 *   mint: { kubernetes, namespace: "prod", name: "billing", audiences: ["api://AzureADTokenExchange"] },
 * });
 * process.env.AZURE_FEDERATED_TOKEN_FILE = volume.path;
 * await volume.rotate();
 * await volume.close();
 * ```
 */
export async function startProjectedVolume(
  options: ProjectedVolumeOptions,
): Promise<ProjectedVolume> {
  const fileName = options.fileName ?? "token";
  if (fileName.startsWith("..") || fileName.includes("/")) {
    throw new Error(
      `fileName must be a plain name not starting with "..": ${JSON.stringify(fileName)}`,
    );
  }
  const mode = options.mode ?? 0o644;
  const source = tokenSource(options.mint);
  await mkdir(options.directory, { recursive: true });

  let rotations = 0;
  let current = "";
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  // The AtomicWriter must be synchronised by its caller: every write waits for the previous one.
  let queue: Promise<void> = Promise.resolve();

  const schedule = (delay: number): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(
      () => {
        void write(true).catch(() => schedule(RETRY_MILLISECONDS));
      },
      Math.min(Math.max(delay, MIN_DELAY_MILLISECONDS), MAX_TIMER_MILLISECONDS),
    );
    // A lab's volume must not keep a finished process alive.
    timer.unref();
  };

  const write = (isRotation: boolean): Promise<void> => {
    const next = queue.then(async () => {
      const issuedAt = Date.now();
      const { token, expiresAt } = await source();
      await atomicWrite(options.directory, fileName, token, mode);
      current = token;
      if (isRotation) rotations += 1;
      schedule((expiresAt.getTime() - issuedAt) * ROTATE_AT - (Date.now() - issuedAt));
    });
    queue = next.catch(() => undefined);
    return next;
  };

  await write(false);

  return {
    path: join(options.directory, fileName),
    get rotations() {
      return rotations;
    },
    get token() {
      return current;
    },
    rotate: () => write(true),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await queue;
    },
  };
}
