import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A running azurite blob service. */
export interface Azurite {
  /** `https://127.0.0.1:PORT`; the account is `devstoreaccount1`. */
  url: string;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

/**
 * Starts azurite's blob service on 127.0.0.1 with OAuth (it checks a bearer token's `aud`,
 * `iss`, `nbf`, `exp` and `iat`, not its signature) over HTTPS with the given certificate.
 * Clients must trust the certificate's CA (NODE_EXTRA_CA_CERTS, set before the process starts).
 */
export async function startAzurite(tls: { cert: string; key: string }): Promise<Azurite> {
  const directory = await mkdtemp(join(tmpdir(), "fedcred-azurite-"));
  await writeFile(join(directory, "cert.pem"), tls.cert);
  await writeFile(join(directory, "key.pem"), tls.key);
  const bin = join(
    dirname(require.resolve("azurite/package.json")),
    "dist",
    "src",
    "blob",
    "main.js",
  );
  const child: ChildProcess = spawn(
    process.execPath,
    [
      bin,
      ...[
        "--oauth",
        "basic",
        "--cert",
        join(directory, "cert.pem"),
        "--key",
        join(directory, "key.pem"),
      ],
      ...["--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry"],
      ...["--blobHost", "127.0.0.1", "--blobPort", "0"],
    ],
    { cwd: directory, stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    await rm(directory, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error(`azurite did not start: ${output}`)), 30_000);
      const read = (chunk: Buffer): void => {
        output += chunk.toString();
        const match = /listens on (https:\/\/[\d.]+:\d+)/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout?.on("data", read);
      child.stderr?.on("data", read);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`azurite exited ${code}: ${output}`));
      });
    });
    return { url, close };
  } catch (error) {
    await close();
    throw error;
  }
}
