import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startKubernetes } from "../src/kubernetes.js";
import { type ProjectedToken, startProjectedVolume } from "../src/projected-volume.js";

/**
 * Lets real I/O started by a faked timer finish: turns of the event loop (setImmediate is not
 * faked) until `done()` holds, for up to 10 s of real time, or 20 turns when there is no condition.
 */
async function settled(done?: () => boolean): Promise<void> {
  const giveUpAt = performance.now() + 10_000;
  for (let turn = 0; done ? !done() : turn < 20; turn++) {
    if (performance.now() > giveUpAt) throw new Error("timed out waiting for the rotation");
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const TIMESTAMP_DIR = /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$/;

function counterSource(
  lifetimeMilliseconds: number,
  size = 1,
): { mint: () => Promise<ProjectedToken>; issued: string[] } {
  const issued: string[] = [];
  return {
    issued,
    mint: async () => {
      // A large token makes a torn read (a partly written file) visible.
      const token = `token-${issued.length}-`.padEnd(size, String(issued.length % 10));
      issued.push(token);
      return { token, expiresAt: new Date(Date.now() + lifetimeMilliseconds) };
    },
  };
}

describe("startProjectedVolume", () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), "fedcred-projected-"));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await rm(directory, { recursive: true, force: true });
  });

  it("lays the token out as the kubelet's atomic writer does", async () => {
    const source = counterSource(3600_000);
    const volume = await startProjectedVolume({ directory, mint: source.mint });
    try {
      expect(volume.path).toBe(join(directory, "token"));
      expect(await readlink(volume.path)).toBe("..data/token");
      const first = await readlink(join(directory, "..data"));
      expect(first).toMatch(TIMESTAMP_DIR);
      expect((await lstat(join(directory, "..data"))).isSymbolicLink()).toBe(true);
      expect((await stat(join(directory, first))).mode & 0o777).toBe(0o755);
      expect((await stat(join(directory, first, "token"))).mode & 0o777).toBe(0o644);
      expect(await readFile(volume.path, "utf8")).toBe("token-0-");
      expect((await readdir(directory)).sort()).toEqual(["..data", first, "token"].sort());
      expect(volume.rotations).toBe(0);

      await volume.rotate();
      const second = await readlink(join(directory, "..data"));
      expect(second).toMatch(TIMESTAMP_DIR);
      expect(second).not.toBe(first);
      expect(await readlink(volume.path)).toBe("..data/token");
      expect(await readFile(volume.path, "utf8")).toBe("token-1-");
      // The old timestamped directory is gone, and no `..data_tmp` is left behind.
      expect((await readdir(directory)).sort()).toEqual(["..data", second, "token"].sort());
      expect(volume.rotations).toBe(1);
      expect(volume.token).toBe("token-1-");
    } finally {
      await volume.close();
    }
  });

  it("rotates by itself at 80% of the token's lifetime, not before", async () => {
    // Faked timers and wall clock: the moment of the rotation, not a loaded machine's late
    // timers, is what is tested. The files are written for real.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const source = counterSource(1000);
    const volume = await startProjectedVolume({
      directory,
      mint: source.mint,
      fileName: "azure-identity-token",
    });
    try {
      expect(volume.path).toBe(join(directory, "azure-identity-token"));
      vi.advanceTimersByTime(799);
      await settled();
      expect(volume.rotations).toBe(0);
      vi.advanceTimersByTime(1);
      await settled(() => volume.rotations === 1);
      expect(await readFile(volume.path, "utf8")).toBe("token-1-");
    } finally {
      await volume.close();
    }
    const rotationsAtClose = volume.rotations;
    vi.advanceTimersByTime(10_000);
    await settled();
    expect(volume.rotations).toBe(rotationsAtClose);
  });

  it("never shows concurrent readers of the unresolved path a missing file or a torn token", async () => {
    const size = 256 * 1024;
    const source = counterSource(3600_000, size);
    const volume = await startProjectedVolume({ directory, mint: source.mint });
    let rotating = true;
    let reads = 0;
    const failures: string[] = [];
    const reader = async (): Promise<void> => {
      while (rotating) {
        try {
          const content = await readFile(volume.path, "utf8");
          reads += 1;
          if (content.length !== size || !source.issued.includes(content))
            failures.push(`torn read of ${content.length} bytes`);
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const readers = Array.from({ length: 16 }, () => reader());
    try {
      for (let index = 0; index < 60; index += 1) await volume.rotate();
    } finally {
      rotating = false;
      await Promise.all(readers);
      await volume.close();
    }
    expect(failures).toEqual([]);
    expect(volume.rotations).toBe(60);
    expect(reads).toBeGreaterThan(60);
    expect((await readdir(directory)).filter((name) => TIMESTAMP_DIR.test(name))).toHaveLength(1);
  });

  it("projects tokens minted by the emulated cluster", async () => {
    const kubernetes = await startKubernetes({
      serviceAccounts: [{ namespace: "prod", name: "billing" }],
    });
    try {
      const volume = await startProjectedVolume({
        directory,
        mint: {
          kubernetes,
          namespace: "prod",
          name: "billing",
          audiences: ["api://AzureADTokenExchange"],
        },
      });
      await volume.close();
      const token = await readFile(volume.path, "utf8");
      const { payload } = await jwtVerify(
        token,
        createLocalJWKSet(kubernetes.jwks() as JSONWebKeySet),
        {
          issuer: kubernetes.issuer,
          audience: "api://AzureADTokenExchange",
          subject: "system:serviceaccount:prod:billing",
        },
      );
      expect(payload.exp! - payload.iat!).toBe(3600);
    } finally {
      await kubernetes.close();
    }
  });

  it("refuses a file name the atomic writer reserves", async () => {
    const source = counterSource(1000);
    await expect(
      startProjectedVolume({ directory, mint: source.mint, fileName: "..data" }),
    ).rejects.toThrow(/fileName/);
  });
});
