import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import {
  type AssertionContext,
  AuthenticationError,
  ClientAssertionCredential,
  CredentialUnavailableError,
} from "@fedcred/core";
import {
  type EntraEmulator,
  type OidcIssuer,
  type ProtectedResource,
  startEntra,
  startIssuer,
  startResource,
} from "@fedcred/emulator";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type FromExecOptions, fromExec } from "../src/index.js";

const TENANT = "7a3b4c5d-0000-4000-8000-0000000000b1";
const APP = "8b4c5d6e-0000-4000-8000-0000000000b2";
const EXCHANGE = "api://AzureADTokenExchange";
const SUBJECT = "helper:deploy";
const PROGRAM = fileURLToPath(new URL("fixtures/program.mjs", import.meta.url));
const PACKAGE = fileURLToPath(new URL("..", import.meta.url));

const context: AssertionContext = {
  clientId: APP,
  tenantId: TENANT,
  authorityHost: "https://login.microsoftonline.com",
  tokenEndpoint: `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`,
};

let issuer: OidcIssuer;
let entra: EntraEmulator;
let resource: ProtectedResource;
let directory: string;

beforeAll(async () => {
  issuer = await startIssuer();
  entra = await startEntra({
    tenants: [
      {
        tenantId: TENANT,
        apps: [
          {
            clientId: APP,
            roles: ["Blob.Read"],
            federatedCredentials: [
              { issuer: issuer.issuer, subject: SUBJECT, audiences: [EXCHANGE] },
            ],
          },
        ],
      },
    ],
  });
  resource = await startResource({
    entra,
    tenantId: TENANT,
    audience: "https://storage.azure.com",
  });
});

afterAll(async () => {
  await Promise.all([resource?.close(), entra?.close(), issuer?.close()]);
});

beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), "fedcred-exec-"));
  vi.stubEnv("FEDCRED_ALLOW_EXECUTABLES", "1");
});

afterEach(async () => {
  vi.unstubAllEnvs();
  entra.reset();
  await rm(directory, { recursive: true, force: true });
});

function unsignedJwt(claims: Record<string, unknown>): string {
  const encode = (value: unknown): string =>
    Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${encode({ alg: "RS256", typ: "JWT" })}.${encode(claims)}.c2ln`;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** fromExec options that run the test program, answering `response` (an object, or text as is). */
async function responding(
  response: unknown,
  extra: { exitCode?: number; stderr?: string } & Partial<FromExecOptions> = {},
): Promise<{ options: FromExecOptions; counter: string }> {
  const file = join(directory, `response-${Math.random()}`);
  const counter = join(directory, `counter-${Math.random()}`);
  await writeFile(file, typeof response === "string" ? response : JSON.stringify(response));
  const { exitCode = 0, stderr = "", ...options } = extra;
  return {
    options: {
      command: process.execPath,
      args: [PROGRAM, "respond", file, String(exitCode), stderr, counter],
      ...options,
    },
    counter,
  };
}

async function runs(counter: string): Promise<number> {
  return (await readFile(counter, "utf8").catch(() => "")).split("\n").filter(Boolean).length;
}

async function failure(promise: unknown): Promise<Error> {
  return Promise.resolve(promise).then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error as Error,
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let attempt = 0; attempt < 100 && alive(pid); attempt++) await delay(100);
  return !alive(pid);
}

describe("fromExec end to end", () => {
  it("runs the program, Entra exchanges its token, the resource accepts the access token; expiration_time keeps it", async () => {
    const token = await issuer.mint({
      subject: SUBJECT,
      audience: EXCHANGE,
      lifetimeSeconds: 3600,
    });
    const { options, counter } = await responding({
      version: 1,
      success: true,
      token_type: "urn:ietf:params:oauth:token-type:id_token",
      id_token: token,
      expiration_time: nowSeconds() + 3600,
    });
    const credential = new ClientAssertionCredential(TENANT, APP, fromExec(options), {
      authorityHost: entra.url,
    });
    const accessToken = await credential.getToken("https://storage.azure.com/.default");
    const response = await fetch(resource.url, {
      headers: { authorization: `Bearer ${accessToken.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ appid: APP, tid: TENANT, roles: ["Blob.Read"] });
    const sent = entra.requests.filter((request) => request.path.endsWith("/oauth2/v2.0/token"));
    expect(sent.map((request) => request.form.client_assertion)).toEqual([token]);

    await credential.getToken("https://vault.azure.net/.default");
    expect(entra.tokenRequestCount).toBe(2);
    expect(await runs(counter)).toBe(1);
    await credential.close();
  });

  it("takes the short form { token } and the JWT's exp; concurrent calls share one run", async () => {
    const token = unsignedJwt({ sub: SUBJECT, exp: nowSeconds() + 3600 });
    const { options, counter } = await responding({ token });
    const getAssertion = fromExec(options);
    const results = await Promise.all(Array.from({ length: 5 }, () => getAssertion(context)));
    expect(results).toEqual(Array(5).fill(token));
    expect(await runs(counter)).toBe(1);
    await getAssertion({ ...context, forceRefresh: true });
    expect(await runs(counter)).toBe(2);
  });

  it("runs again once a short-lived token nears its expiration_time", async () => {
    // The wall clock is faked from a whole second on, so neither the program's start-up time
    // nor the second's fraction moves the moment the token comes due.
    vi.useFakeTimers({ toFake: ["Date"], now: Math.floor(Date.now() / 1000) * 1000 });
    try {
      const token = unsignedJwt({ sub: SUBJECT });
      const { options, counter } = await responding({
        version: 1,
        success: true,
        id_token: token,
        expiration_time: nowSeconds() + 600,
      });
      const getAssertion = fromExec(options);
      await getAssertion(context);
      vi.advanceTimersByTime(479_000);
      await getAssertion(context);
      expect(await runs(counter)).toBe(1);
      vi.advanceTimersByTime(2_000);
      await getAssertion(context);
      expect(await runs(counter)).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("passes the arguments as they are, without a shell", async () => {
    const marker = join(directory, "injected");
    const args = ["a b", "$(touch " + marker + ")", "'quoted'", "; touch " + marker];
    const error = await failure(
      fromExec({ command: process.execPath, args: [PROGRAM, "args", ...args] })(context),
    );
    expect(error.message).toContain(programTextOf(JSON.stringify(args)));
    await expect(readFile(marker)).rejects.toThrow();
  });
});

function programTextOf(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

describe("fromExec refusals and bounds", () => {
  it("runs nothing without FEDCRED_ALLOW_EXECUTABLES=1 at the time of the call, and says which variable to set", async () => {
    vi.stubEnv("FEDCRED_ALLOW_EXECUTABLES", "");
    const { options, counter } = await responding({ token: unsignedJwt({}) });
    const getAssertion = fromExec(options);
    for (const value of ["", "true", "0"]) {
      vi.stubEnv("FEDCRED_ALLOW_EXECUTABLES", value);
      const error = await failure(getAssertion(context));
      expect(CredentialUnavailableError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ code: "missing_configuration" });
      expect(error.message).toBe(
        `fromExec runs programs only when this process's environment allows it: set FEDCRED_ALLOW_EXECUTABLES=1 to run ${JSON.stringify(process.execPath)}.`,
      );
    }
    expect(await runs(counter)).toBe(0);
    // Allowed later, the same function runs the program.
    vi.stubEnv("FEDCRED_ALLOW_EXECUTABLES", "1");
    await getAssertion(context);
    expect(await runs(counter)).toBe(1);
  });

  it("kills the program and what it started after timeoutInMs, leaving nothing running", async () => {
    const pids = join(directory, "pids.json");
    const getAssertion = fromExec({
      command: process.execPath,
      args: [PROGRAM, "hang", pids],
      // Long enough for a loaded machine to start Node and write the pids before the kill.
      timeoutInMs: 5_000,
    });
    const error = await failure(getAssertion(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      `The program ${JSON.stringify(process.execPath)} did not finish within 5000 ms and was killed: check what it waits for, or raise options.timeoutInMs.`,
    );
    const { child, grandchild } = JSON.parse(await readFile(pids, "utf8")) as {
      child: number;
      grandchild: number;
    };
    expect(await gone(child)).toBe(true);
    expect(await gone(grandchild)).toBe(true);
  });

  it("kills the program on abort", async () => {
    const pids = join(directory, "pids.json");
    const controller = new AbortController();
    const pending = fromExec({ command: process.execPath, args: [PROGRAM, "hang", pids] })({
      ...context,
      abortSignal: controller.signal,
    });
    for (let attempt = 0; attempt < 200; attempt++) {
      if (await readFile(pids, "utf8").catch(() => undefined)) break;
      await delay(50);
    }
    controller.abort();
    expect((await failure(pending)).name).toBe("AbortError");
    const { child, grandchild } = JSON.parse(await readFile(pids, "utf8")) as {
      child: number;
      grandchild: number;
    };
    expect(await gone(child)).toBe(true);
    expect(await gone(grandchild)).toBe(true);
  });

  it("kills a program that prints more than 64 KiB", async () => {
    const error = await failure(
      fromExec({ command: process.execPath, args: [PROGRAM, "flood"] })(context),
    );
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.message).toContain("printed more than 64 KiB on stdout and was killed");
  });

  it("keeps stderr out of errors unless includeStderrInErrors", async () => {
    const secret = "stderr-secret-4711";
    const failing = await responding("", { exitCode: 3, stderr: `token=${secret}\nline two` });
    const hidden = await failure(fromExec(failing.options)(context));
    expect(AuthenticationError.isInstance(hidden)).toBe(true);
    expect(hidden).toMatchObject({ code: "assertion_failed" });
    expect(hidden.message).toBe(
      `The program ${JSON.stringify(process.execPath)} exited with code 3.`,
    );
    expect(`${inspect(hidden)} ${JSON.stringify(hidden)}`).not.toContain(secret);

    const shown = await failure(
      fromExec({ ...failing.options, includeStderrInErrors: true })(context),
    );
    expect(shown.message).toBe(
      `The program ${JSON.stringify(process.execPath)} exited with code 3. Its stderr: token=${secret} line two`,
    );
  });

  it("quotes the program's code and message when it reports success: false", async () => {
    const { options } = await responding(
      { version: 1, success: false, code: "401", message: "Caller not authorized." },
      { exitCode: 1 },
    );
    const error = await failure(fromExec(options)(context));
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error.message).toBe(
      `The program ${JSON.stringify(process.execPath)} reported failure 401: Caller not authorized..`,
    );
  });

  it.each([
    ["text that is not JSON", "eyJ.not json", "did not print a JSON object on stdout"],
    ["nothing", "", "did not print a JSON object on stdout"],
    [
      "an unknown version",
      { version: 2, success: true, id_token: unsignedJwt({}) },
      "printed version 2; only version 1",
    ],
    [
      "a SAML response",
      {
        version: 1,
        success: true,
        token_type: "urn:ietf:params:oauth:token-type:saml2",
        saml_response: "PD94",
      },
      "printed token_type urn:ietf:params:oauth:token-type:saml2; Entra takes a JWT",
    ],
    ["no token", { version: 1, success: true }, "printed no JWT in id_token (or token)"],
    ["a token that is not a JWT", { token: "opaque-value" }, "printed no JWT"],
    [
      "a bad expiration_time",
      { token: unsignedJwt({}), expiration_time: "soon" },
      "expiration_time that is not a number",
    ],
  ])("reports %s", async (_name, response, message) => {
    const { options } = await responding(response);
    const error = await failure(fromExec(options)(context));
    expect(AuthenticationError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_failed" });
    expect(error.message).toContain(message);
  });

  it("reports an expired token instead of sending it", async () => {
    const { options } = await responding({
      token: unsignedJwt({}),
      expiration_time: nowSeconds() - 10,
    });
    const error = await failure(fromExec(options)(context));
    expect(error).toMatchObject({ code: "assertion_expired" });
  });

  it("reports a program that does not exist as unavailable", async () => {
    const missing = join(directory, "no-such-program");
    const error = await failure(fromExec({ command: missing })(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toBe(
      `The program ${JSON.stringify(missing)} cannot be run (ENOENT): check options.command, that it is installed and executable, and PATH.`,
    );
  });

  it("reads what a program printed once it exits, though something it left running holds stdout", async () => {
    const token = unsignedJwt({ sub: SUBJECT, exp: nowSeconds() + 3600 });
    const file = join(directory, "daemon-response");
    await writeFile(file, JSON.stringify({ token }));
    const pids = join(directory, "daemon-pids.json");
    try {
      const assertion = await fromExec({
        command: process.execPath,
        args: [PROGRAM, "daemon", file, pids],
        timeoutInMs: 60_000,
      })(context);
      expect(assertion).toBe(token);
    } finally {
      const { grandchild } = JSON.parse(await readFile(pids, "utf8").catch(() => "{}")) as {
        grandchild?: number;
      };
      if (grandchild !== undefined && alive(grandchild)) process.kill(grandchild, "SIGKILL");
    }
  });

  it("reports a failure whose code and message are deeply nested JSON as a typed error, not a stack overflow", async () => {
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const { options } = await responding(
      `{"version":1,"success":false,"code":${nested(30_000)},"message":{"a":${nested(100)}}}`,
      { exitCode: 1 },
    );
    const error = await failure(fromExec(options)(context));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: "assertion_failed" });
    expect(error.message).toContain("reported failure (a JSON array): (a JSON object).");
  });

  it("keeps the arguments out of a spawn failure's cause (Node's error holds them as spawnargs)", async () => {
    const missing = join(directory, "no-such-program");
    const error = await failure(
      fromExec({ command: missing, args: ["--key", "arg-secret-1234"] })(context),
    );
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.cause).toMatchObject({ code: "ENOENT" });
    for (const printed of [
      inspect(error, { depth: 10, showHidden: true }),
      inspect(error.cause, { depth: 10, showHidden: true }),
      JSON.stringify(error),
      JSON.stringify(error.cause),
    ]) {
      expect(printed).not.toContain("arg-secret-1234");
    }
  });

  it("names options.cwd, not the command, when the working directory does not exist", async () => {
    const { options, counter } = await responding({
      token: unsignedJwt({ exp: nowSeconds() + 3600 }),
    });
    const cwd = join(directory, "no-such-directory");
    const error = await failure(fromExec({ ...options, cwd })(context));
    expect(CredentialUnavailableError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "assertion_unavailable" });
    expect(error.message).toContain(`${JSON.stringify(cwd)} (options.cwd) is not a directory`);
    expect(error.message).not.toContain("check options.command");
    expect(await runs(counter)).toBe(0);
  });

  it("keeps a token no longer than its JWT exp, even when expiration_time says later (one in milliseconds)", async () => {
    const exp = nowSeconds() + 600;
    const { options, counter } = await responding({
      version: 1,
      success: true,
      id_token: unsignedJwt({ sub: SUBJECT, exp }),
      expiration_time: exp * 1000,
    });
    const getAssertion = fromExec(options);
    await getAssertion(context);
    expect(await runs(counter)).toBe(1);
    // Past the JWT's own refresh point (a fifth of its 600 s before its exp), the program runs again.
    vi.useFakeTimers({ toFake: ["Date"], now: (exp - 60) * 1000 });
    try {
      await getAssertion(context);
      expect(await runs(counter)).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it.each([
    [{ command: "" }, "options.command must be the program"],
    [{ command: 42 }, "options.command must be the program"],
    [{ command: "x", args: "a b" }, "options.args must be an array of strings."],
    [{ command: "x", args: [1] }, "options.args must be an array of strings."],
    [{ command: "x", timeoutInMs: 0 }, "options.timeoutInMs must be a whole number"],
    [{ command: "x", timeoutInMs: 1e9 }, "from 1 to 600000"],
    [
      { command: "x", includeStderrInErrors: "yes" },
      "options.includeStderrInErrors must be true or false.",
    ],
  ])("refuses %j at once", (options, message) => {
    expect(() => fromExec(options as never)).toThrow(CredentialUnavailableError);
    expect(() => fromExec(options as never)).toThrow(message);
  });

  it("leaves nothing keeping the process alive: a process whose program timed out ends by itself", async () => {
    const pids = join(directory, "pids.json");
    const script = `
      import { fromExec } from "@fedcred/exec";
      const getAssertion = fromExec({ command: process.execPath, args: [${JSON.stringify(PROGRAM)}, "hang", ${JSON.stringify(pids)}], timeoutInMs: 5000 });
      getAssertion({}).catch((error) => console.log(error.name));
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      cwd: PACKAGE,
      env: { ...process.env, FEDCRED_ALLOW_EXECUTABLES: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const deadline = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, 45_000);
      child.on("close", (exitCode) => {
        clearTimeout(deadline);
        resolve(exitCode);
      });
    });
    expect(output.trim()).toBe("CredentialUnavailableError");
    expect(code).toBe(0);
    const { child: program, grandchild } = JSON.parse(await readFile(pids, "utf8")) as {
      child: number;
      grandchild: number;
    };
    expect(await gone(program)).toBe(true);
    expect(await gone(grandchild)).toBe(true);
  });
});
