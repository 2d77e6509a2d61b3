import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromFile } from "@fedcred/file";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Rotator, startRotator } from "./support/load-rotator.js";

const READERS = 1000;
/** What the credential would pass: fromFile reads the file whatever it says. */
const CONTEXT = {
  clientId: "7e1a0000-0000-4000-8000-00000000c11e",
  tenantId: "7e1a0000-0000-4000-8000-000000000000",
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint:
    "https://login.microsoftonline.com/7e1a0000-0000-4000-8000-000000000000/oauth2/v2.0/token",
};
const MIN_ROTATIONS = 200;
const MIN_READS = 20_000;

let directory: string;
let rotator: Rotator | undefined;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-rotation-"));
});

afterAll(async () => {
  await rotator?.stop().catch(() => {});
  await rm(directory, { recursive: true, force: true });
});

interface Read {
  /** The newest rotation known to be swapped in when the read began. */
  completedWhenStarted: number;
  token?: string;
  error?: unknown;
}

describe("token-file rotation", () => {
  it(`the kubelet-style writer rotating the file many times a second under ${READERS} concurrent reads through fromFile: no torn, empty or stale-after-swap read`, async () => {
    // The emulator's projected volume, rotated back to back by another process (as the kubelet
    // is one): a swap is complete once the rename is done and the old directory is removed.
    const writer = await startRotator(join(directory, "serviceaccount"));
    rotator = writer;
    const readToken = fromFile({ path: writer.path });

    let stop = false;
    const reads: Read[] = [];
    const reader = async (): Promise<void> => {
      while (!stop) {
        const read: Read = { completedWhenStarted: writer.completed };
        try {
          read.token = await readToken(CONTEXT);
        } catch (error) {
          read.error = error;
        }
        reads.push(read);
      }
    };
    const started = performance.now();
    const readers = Array.from({ length: READERS }, () => reader());
    while (writer.completed < MIN_ROTATIONS || reads.length < MIN_READS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    stop = true;
    await Promise.all(readers);
    const rotations = await writer.stop();
    rotator = undefined;
    const durationMs = performance.now() - started;

    const errors = reads.filter((read) => read.error !== undefined);
    expect(errors.map((read) => String(read.error))).toEqual([]);
    let torn = 0;
    let stale = 0;
    const seen = new Set<number>();
    for (const read of reads) {
      const sequence = writer.written.get(read.token as string);
      // Anything but exactly a token the writer swapped in is torn (an empty read included).
      if (sequence === undefined) {
        torn++;
        continue;
      }
      seen.add(sequence);
      // Stale after swap: the read began after the swap of token N had completed (the writer
      // had reported it), yet returned a token older than N.
      if (sequence < read.completedWhenStarted) stale++;
    }
    expect(torn).toBe(0);
    expect(stale).toBe(0);
    expect(rotations).toBeGreaterThanOrEqual(MIN_ROTATIONS);
    // The reads really overlapped the swaps: they saw many of the tokens, not one or two.
    expect(seen.size).toBeGreaterThan(MIN_ROTATIONS / 4);
    console.log(
      `rotation: ${rotations} swaps (${((rotations / durationMs) * 1000).toFixed(0)} per second) under ${READERS} concurrent readers; ` +
        `${reads.length} reads, ${seen.size} distinct tokens read, 0 torn, 0 empty, 0 stale; ${Math.round(durationMs)} ms`,
    );
  });
});
