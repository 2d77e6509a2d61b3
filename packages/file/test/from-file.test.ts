import { chmod, mkdtemp, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CredentialUnavailableError } from "@fedcred/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fromFile } from "../src/index.js";
import { writeProjected } from "./kubelet-volume.js";

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-file-"));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(directory, { recursive: true, force: true });
});

function jwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT" })}.${encode(claims)}.c2ln`;
}

const context = {
  clientId: "c",
  tenantId: "t",
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
};

async function failure(promise: Promise<unknown>): Promise<CredentialUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CredentialUnavailableError);
  return error as CredentialUnavailableError;
}

describe("fromFile", () => {
  it("reads and trims the file named by options.path, on every call", async () => {
    const path = join(directory, "token");
    await writeFile(path, `  ${jwt({ n: 1 })}\n`);
    const getAssertion = fromFile({ path });
    expect(await getAssertion(context)).toBe(jwt({ n: 1 }));
    await writeFile(path, jwt({ n: 2 }));
    expect(await getAssertion(context)).toBe(jwt({ n: 2 }));
  });

  it("defaults to AZURE_FEDERATED_TOKEN_FILE, read when the factory runs", async () => {
    const path = join(directory, "azure-identity-token");
    await writeFile(path, "opaque-but-present");
    vi.stubEnv("AZURE_FEDERATED_TOKEN_FILE", path);
    expect(await fromFile()(context)).toBe("opaque-but-present");
  });

  it("throws at once, naming the option and the variable, when neither is set", () => {
    vi.stubEnv("AZURE_FEDERATED_TOKEN_FILE", "");
    let error: unknown;
    try {
      fromFile();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    expect(error).toMatchObject({ code: "missing_configuration" });
    expect((error as Error).message).toMatch(/options\.path/);
    expect((error as Error).message).toMatch(/AZURE_FEDERATED_TOKEN_FILE/);
  });

  it("refuses bad format options at once", () => {
    expect(() => fromFile({ path: "/x", format: "yaml" as never })).toThrow(/options.format/);
    expect(() => fromFile({ path: "/x", format: "json" })).toThrow(/options.field/);
  });

  it.each([
    [
      { path: 42 as never },
      "options.path must be the path of the token file as a string, got number.",
    ],
    [{ path: "/x", retryDelayInMs: "100" as never }, 'got "100"'],
    [{ path: "/x", retryDelayInMs: 1e10 }, "from 0 to 60000"],
    [{ path: "/x", retryDelayInMs: -1 }, "from 0 to 60000"],
    [{ path: "/x", retryDelayInMs: 1.5 }, "whole number"],
  ])("refuses the option types it cannot use, at once: %j", (options, message) => {
    expect(() => fromFile(options)).toThrow(CredentialUnavailableError);
    expect(() => fromFile(options)).toThrow(message);
  });

  it("retries a missing file once after a pause, then names the path", async () => {
    const path = join(directory, "late");
    // The file comes 50 ms after the first read and well before the retry, however late a
    // loaded machine runs the timers.
    const getAssertion = fromFile({ path, retryDelayInMs: 2_000 });
    const pending = getAssertion(context);
    setTimeout(() => void writeFile(path, "written-late"), 50);
    expect(await pending).toBe("written-late");

    const missing = join(directory, "never");
    const error = await failure(
      Promise.resolve(fromFile({ path: missing, retryDelayInMs: 10 })(context)),
    );
    expect(error.code).toBe("assertion_unavailable");
    expect(error.message).toContain(missing);
    expect(error.message).toMatch(/does not exist/);
  });

  it("retries an empty file once, then reports it empty", async () => {
    const path = join(directory, "empty");
    await writeFile(path, " \n");
    const error = await failure(Promise.resolve(fromFile({ path, retryDelayInMs: 10 })(context)));
    expect(error.message).toMatch(/is empty/);
    expect(error.message).toContain(path);
  });

  it("reports an unreadable file with its path and reason", async () => {
    if (process.getuid?.() === 0) {
      const error = await failure(Promise.resolve(fromFile({ path: directory })(context)));
      expect(error.message).toMatch(/EISDIR/);
      return;
    }
    const path = join(directory, "locked");
    await writeFile(path, "x");
    await chmod(path, 0);
    const error = await failure(Promise.resolve(fromFile({ path })(context)));
    expect(error.message).toMatch(/EACCES/);
  });

  it("reports a JWT whose exp has passed with its expiry time, never the token", async () => {
    const path = join(directory, "stale");
    const token = jwt({ sub: "x", exp: 1_700_000_000 });
    await writeFile(path, token);
    const error = await failure(Promise.resolve(fromFile({ path })(context)));
    expect(error.code).toBe("assertion_expired");
    expect(error.message).toContain("2023-11-14T22:13:20.000Z");
    expect(error.message).not.toContain(token);
  });

  it("reads a token out of a JSON document with format json", async () => {
    const path = join(directory, "oidc.json");
    await writeFile(
      path,
      JSON.stringify({ count: 1, value: jwt({ sub: "repo:x" }), nested: { token: "deep" } }),
    );
    expect(await fromFile({ path, format: "json", field: "value" })(context)).toBe(
      jwt({ sub: "repo:x" }),
    );
    expect(await fromFile({ path, format: "json", field: "nested.token" })(context)).toBe("deep");
    const error = await failure(
      Promise.resolve(fromFile({ path, format: "json", field: "count" })(context)),
    );
    expect(error.message).toMatch(/"count"/);
    await writeFile(path, "not json");
    await failure(Promise.resolve(fromFile({ path, format: "json", field: "value" })(context)));
  });

  it("honours the abort signal", async () => {
    const getAssertion = fromFile({ path: join(directory, "missing"), retryDelayInMs: 10_000 });
    const controller = new AbortController();
    const pending = Promise.resolve(getAssertion({ ...context, abortSignal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
  });

  it("never fails nor returns a torn token while the kubelet rotates the volume", async () => {
    const tokens = Array.from({ length: 40 }, (_, i) =>
      jwt({ sub: "system:serviceaccount:prod:billing", n: i, pad: "x".repeat(2000) }),
    );
    await writeProjected(directory, { "azure-identity-token": tokens[0]! });
    const path = join(directory, "azure-identity-token");
    expect(await readlink(path)).toBe(join("..data", "azure-identity-token"));
    const getAssertion = fromFile({ path, retryDelayInMs: 5 });
    let rotating = true;
    const rotations = (async () => {
      for (const token of tokens.slice(1))
        await writeProjected(directory, { "azure-identity-token": token });
      rotating = false;
    })();
    const seen = new Set<string>();
    let reads = 0;
    const readers = Array.from({ length: 8 }, async () => {
      while (rotating) {
        const token = await getAssertion(context);
        expect(tokens).toContain(token);
        seen.add(token);
        reads++;
      }
    });
    await Promise.all([rotations, ...readers]);
    expect(reads).toBeGreaterThan(40);
    expect(seen.size).toBeGreaterThan(1);
    expect(await getAssertion(context)).toBe(tokens.at(-1));
  });
});
