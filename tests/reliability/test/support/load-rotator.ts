import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

// The writer, as its own process (the kubelet is one): the emulator's projected volume,
// rotated back to back; after each swap it reports the sequence now in place.
const WRITER = `
import { startProjectedVolume } from "@fedcred/emulator";
const [directory, bytes] = process.argv.slice(-2);
// A token of a realistic size (a service-account token is about 1 KiB), so a torn read shows.
const tokenOf = (sequence) => {
  const head = "rotation-" + sequence + "-";
  return head + String.fromCharCode(97 + (sequence % 26)).repeat(Number(bytes) - head.length - 4) + "-end";
};
let minted = 0;
let stop = false;
process.on("message", () => { stop = true; });
process.on("disconnect", () => process.exit(0));
const volume = await startProjectedVolume({
  directory,
  mint: async () => ({ token: tokenOf(++minted), expiresAt: new Date(Date.now() + 3600_000) }),
});
process.send({ path: volume.path, completed: minted, token: volume.token });
while (!stop) {
  await volume.rotate();
  process.send({ completed: minted, token: volume.token });
  // Lets the stop message in between swaps.
  await new Promise((resolve) => setImmediate(resolve));
}
await volume.close();
process.send({ done: true, rotations: volume.rotations }, () => process.exit(0));
`;

interface WriterMessage {
  path?: string;
  completed?: number;
  token?: string;
  done?: boolean;
  rotations?: number;
}

/** A projected volume rotated back to back by another process. */
export interface Rotator {
  /** The token file (`directory/token`, a symlink into `..data`). */
  readonly path: string;
  /** The newest rotation this process has heard is swapped in. */
  readonly completed: number;
  /** Every token swapped in, with its rotation number (1: the first write). */
  readonly written: ReadonlyMap<string, number>;
  /** Stops the writer and answers how many rotations it made. */
  stop(): Promise<number>;
}

/** Starts the writer process on `directory` and waits for its first token. */
export async function startRotator(directory: string, tokenBytes = 1500): Promise<Rotator> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--input-type=module", "-e", WRITER, "--", directory, String(tokenBytes)],
    {
      // Resolves @fedcred/emulator from the reliability package.
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  let completed = 0;
  const written = new Map<string, number>();
  let path: string | undefined;
  let rotations: number | undefined;
  const ready = new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the writer exited with ${code}`)));
    child.on("message", (message: WriterMessage) => {
      if (message.path !== undefined) {
        path = message.path;
        resolve();
      }
      if (message.completed !== undefined) {
        completed = Math.max(completed, message.completed);
        if (message.token !== undefined) written.set(message.token, message.completed);
      }
      if (message.done) rotations = message.rotations;
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill();
    throw error;
  }
  return {
    path: path as string,
    get completed() {
      return completed;
    },
    written,
    async stop() {
      const exited = once(child, "exit");
      child.send("stop");
      await exited;
      if (rotations === undefined) throw new Error("the writer stopped without reporting");
      return rotations;
    },
  };
}
