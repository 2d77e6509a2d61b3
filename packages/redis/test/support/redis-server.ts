import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A real `redis-server` (Debian's package) on a loopback port, with its own temporary directory. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:{port}`. */
  readonly url: string;
  readonly pid: number | undefined;
  /** Stops the server by its PID (SIGTERM, then SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is saved). */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Starts `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no --dir <tmp>`, with
 * nothing persisted, and resolves once it accepts connections.
 */
export async function startRedisServer(
  options: { tls?: { certFile: string; keyFile: string; caFile: string } } = {},
): Promise<RedisServer> {
  const port = await freePort();
  // With TLS: only a TLS port (rediss://), the server's certificate from files.
  const listen =
    options.tls === undefined
      ? ["--port", String(port)]
      : [
          "--port",
          "0",
          "--tls-port",
          String(port),
          "--tls-cert-file",
          options.tls.certFile,
          "--tls-key-file",
          options.tls.keyFile,
          "--tls-ca-cert-file",
          options.tls.caFile,
          "--tls-auth-clients",
          "no",
        ];
  const dir = mkdtempSync(join(tmpdir(), "fedcred-redis-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const started = spawn(
      "redis-server",
      [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = started;
    exited = new Promise((resolve) => started.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString("utf8");
        if (output.includes("Ready to accept connections")) {
          started.stdout?.off("data", onData);
          started.stdout?.resume();
          resolve();
        }
      };
      started.stdout?.on("data", onData);
      started.stderr?.resume();
      started.once("error", (error: NodeJS.ErrnoException) =>
        reject(
          error.code === "ENOENT"
            ? new Error(
                "redis-server is not installed: these tests start a real one (Debian: apt-get install -y redis-server; CI's .ci/run installs it).",
              )
            : error,
        ),
      );
      started.once("exit", (code) =>
        reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)),
      );
    });
  };

  const stop = async (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.pid === undefined) return;
    process.kill(running.pid, "SIGTERM");
    const timer = setTimeout(() => {
      if (running.exitCode === null && running.pid !== undefined)
        process.kill(running.pid, "SIGKILL");
    }, 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `${options.tls === undefined ? "redis" : "rediss"}://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
