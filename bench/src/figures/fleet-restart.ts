// A fleet restart: N client processes, each with its own credential, started together and let go
// at once (a barrier in the bench process), with and without a shared token store on a real
// redis-server (`@fedcred/redis`), and @azure/identity's for reference. Token requests are
// counted at the emulator; each process times its first token from the moment it was let go.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchContext, Figure, FigureResult } from "../context.js";
import { credentialFactory, type Library } from "../credentials.js";
import { count, ms, ratio } from "../format.js";
import type { Lab } from "../lab.js";
import { percentile } from "../stats.js";

type Mode = "store" | "memory" | "azure";

export interface FleetMemberParams {
  mode: Mode;
  /** Which member: makes every process a distinct call. */
  index: number;
  barrierUrl: string;
  redisUrl: string;
  encryptionKey: string;
}

export interface FleetMemberResult {
  /** ms from the barrier's release to the first token. */
  ms: number;
  /** A hash of the token, to count distinct tokens without moving them around. */
  tokenHash: string;
}

/** In a client process: one member of the fleet. */
export async function fleetMember(params: FleetMemberParams, lab: Lab): Promise<FleetMemberResult> {
  const library: Library = params.mode === "azure" ? "azure" : "fedcred";
  const factory = await credentialFactory(library, lab);
  let extra: Record<string, unknown> = {};
  let close = async (): Promise<void> => {};
  if (params.mode === "store") {
    const { createClient } = await import("redis");
    const { redisTokenStore } = await import("@fedcred/redis");
    const client = createClient({ url: params.redisUrl });
    client.on("error", () => {});
    await client.connect();
    // 100 processes on a couple of cores starve each other's event loops for seconds (a fleet's
    // pods each have their own CPU): the default 500 ms per command would time out and send
    // them to Entra. Generous bounds measure the sharing, not this machine's scheduler.
    extra = {
      tokenStore: redisTokenStore({
        client,
        encryptionKey: params.encryptionKey,
        operationTimeoutInMs: 20_000,
        leaseInMs: 30_000,
      }),
    };
    close = async () => {
      await client.close();
    };
  }
  const credential = factory.create({ extra });
  // Set up: wait until every member is, then go.
  await fetch(params.barrierUrl).then((response) => response.text());
  const start = performance.now();
  const token = await credential.getToken(lab.scope);
  const elapsed = performance.now() - start;
  await factory.dispose(credential);
  await close();
  return {
    ms: elapsed,
    tokenHash: createHash("sha256")
      .update(token?.token ?? "")
      .digest("hex"),
  };
}

/** Releases each named group of `size` callers once all of them have arrived. */
async function startBarrier(): Promise<{ url: string; server: Server }> {
  const waiting = new Map<string, ServerResponse[]>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const [, group = "", size = "0"] = (request.url ?? "").split("/");
    const list = waiting.get(group) ?? [];
    list.push(response);
    waiting.set(group, list);
    if (list.length >= Number(size)) {
      waiting.delete(group);
      for (const waiter of list) waiter.end("go");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no barrier port");
  return { url: `http://127.0.0.1:${address.port}`, server };
}

/** A real redis-server on a free loopback port, nothing persisted; stopped by its PID. */
async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  const dir = mkdtempSync(join(tmpdir(), "fedcred-bench-redis-"));
  const child: ChildProcess = spawn(
    "redis-server",
    [
      "--port",
      String(address.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = "";
    child.once("error", (error) =>
      reject(new Error(`redis-server could not start (apt-get install redis-server): ${error}`)),
    );
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return {
    url: `redis://127.0.0.1:${address.port}`,
    stop: async () => {
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface FleetRun {
  processes: number;
  tokenRequests: number;
  distinctTokens: number;
  p95: number;
  p50: number;
}

async function runFleet(
  context: BenchContext,
  mode: Mode,
  processes: number,
  shared: Omit<FleetMemberParams, "mode" | "index" | "barrierUrl"> & { barrierUrl: string },
): Promise<FleetRun> {
  const before = (await context.counts()).main.tokenRequests;
  const group = `${mode}-${randomBytes(4).toString("hex")}`;
  const results = await Promise.all(
    Array.from({ length: processes }, (_, index) =>
      context.client<FleetMemberResult>(import.meta.url, "fleetMember", {
        ...shared,
        mode,
        index,
        barrierUrl: `${shared.barrierUrl}/${group}/${processes}`,
      }),
    ),
  );
  const after = (await context.counts()).main.tokenRequests;
  const times = results.map((result) => result.ms);
  return {
    processes,
    tokenRequests: after - before,
    distinctTokens: new Set(results.map((result) => result.tokenHash)).size,
    p95: percentile(times, 95),
    p50: percentile(times, 50),
  };
}

export const fleetRestart: Figure = {
  id: "fleet-restart",
  smoke: true,
  async run(context): Promise<FigureResult> {
    const processes = context.smoke ? 10 : 100;
    const redis = await startRedisServer();
    const barrier = await startBarrier();
    try {
      const shared = {
        barrierUrl: barrier.url,
        redisUrl: redis.url,
        encryptionKey: randomBytes(32).toString("base64"),
      };
      const store = await runFleet(context, "store", processes, shared);
      const memory = await runFleet(context, "memory", processes, shared);
      const azure = await runFleet(context, "azure", processes, shared);
      const name = `fleet restart, ${count(processes)} processes started together`;
      return {
        rows: [
          {
            section: "credential",
            figure: `${name}: token requests, with @fedcred/redis`,
            fedcred: count(store.tokenRequests),
            azure: count(azure.tokenRequests),
            ratio: "-",
            target: "exactly 1",
            met: store.tokenRequests === 1,
          },
          {
            section: "credential",
            figure: `${name}: token requests, in-process cache only`,
            fedcred: count(memory.tokenRequests),
            azure: count(azure.tokenRequests),
            ratio: "-",
            target: `${count(processes)} (one per process)`,
            met: memory.tokenRequests === processes,
          },
          {
            section: "credential",
            figure: `${name}: p95 time to first token, with @fedcred/redis`,
            fedcred: ms(store.p95),
            azure: ms(azure.p95),
            ratio: ratio(store.p95 / azure.p95),
            target: "-",
            met: undefined,
          },
          {
            section: "credential",
            figure: `${name}: p95 time to first token, in-process cache only`,
            fedcred: ms(memory.p95),
            azure: ms(azure.p95),
            ratio: ratio(memory.p95 / azure.p95),
            target: "-",
            met: undefined,
          },
        ],
        data: { processes, store, memory, azure },
        checks: [
          {
            name: `fedcred token requests for a fleet of ${processes} with the Redis store`,
            counted: store.tokenRequests,
            expected: 1,
          },
          {
            name: `distinct tokens a fleet of ${processes} got with the Redis store`,
            counted: store.distinctTokens,
            expected: 1,
          },
          {
            name: `fedcred token requests for a fleet of ${processes} without a store`,
            counted: memory.tokenRequests,
            expected: processes,
          },
          {
            name: `@azure/identity token requests for a fleet of ${processes}`,
            counted: azure.tokenRequests,
            expected: { min: processes, max: 2 * processes },
          },
        ],
      };
    } finally {
      await new Promise<void>((resolve) => barrier.server.close(() => resolve()));
      await redis.stop();
    }
  },
};
