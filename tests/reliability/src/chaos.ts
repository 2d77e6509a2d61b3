// A seeded chaos run: a mixed workload of getToken calls (many tenants and scopes, CAE, claims
// challenges, aborts) against the Entra emulator while its faults are drawn at random every
// second, the projected token file rotates and the issuer rotates its signing keys. Afterwards
// the invariants are checked. The seed drives every decision (workload, faults, rotations); the
// interleaving with the event loop is not replayed exactly, so a replay reproduces the same
// pressure rather than the same schedule.
//
// Library: `runChaos({ seed, durationMs })` answers a report with the violations found.
// CLI (`pnpm chaos --minutes N [--seed S]`): prints the seed first, runs, prints the report,
// exits 1 when an invariant broke.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import {
  AuthenticationError,
  ClientAssertionCredential,
  type ClientAssertionCredentialOptions,
  decodeJwtPayload,
  FedcredError,
} from "@fedcred/core";
import {
  type EntraEmulator,
  type Fault,
  type OidcIssuer,
  type ProjectedVolume,
  startEntra,
  startIssuer,
  startProjectedVolume,
} from "@fedcred/emulator";
import { fromFile } from "@fedcred/file";

/** Options of {@link runChaos}. */
export interface ChaosOptions {
  /** The seed of every random decision; a fresh one when absent. */
  seed?: number;
  /** How long the workload runs, in ms. */
  durationMs: number;
  /** Progress lines (one every 10 s); silent when absent. */
  log?: (line: string) => void;
}

/** What a chaos run saw, and the invariants it broke (`violations` empty when none). */
export interface ChaosReport {
  seed: number;
  durationMs: number;
  calls: number;
  tokens: number;
  /** Failed calls by error code (`AbortError` for aborted calls). */
  errors: Record<string, number>;
  claimsCalls: number;
  abortedCalls: number;
  /** Token requests the emulator received, and the bound the cache and cool-downs promise. */
  tokenRequests: number;
  tokenRequestBound: number;
  faultsPlayed: number;
  fileRotations: number;
  keyRotations: number;
  heap: { baselineBytes: number; afterCloseBytes: number; allowedGrowthBytes: number };
  /** Every broken invariant, at most 50 (the count of the rest in `moreViolations`). */
  violations: string[];
  moreViolations: number;
}

// The shape of the run.
const TENANTS = 8;
const RESOURCES = [
  "https://storage.azure.com",
  "https://vault.azure.net",
  "https://management.azure.com",
];
/**
 * Access tokens live 30 s: core serves a token shorter than 5 minutes until a tenth of its
 * lifetime before expiry (3 s here). The emulator's whole-second `exp` can lose 1 s of that, and
 * a token is checked when its caller resumes, which a loaded event loop delays: 2 s are left for
 * that, so a correct client never seems to return an expired token.
 */
const ACCESS_TOKEN_SECONDS = 30;
const ASSERTION_SECONDS = 40;
const MAX_RETRIES = 2;
const REQUEST_TIMEOUT_MS = 2_000;
const MAX_RETRY_DELAY_MS = 1_500;
/** The longest a call may take: every attempt timing out, every wait at its cap, plus slack. */
const CALL_DEADLINE_MS =
  (MAX_RETRIES + 1) * REQUEST_TIMEOUT_MS + MAX_RETRIES * MAX_RETRY_DELAY_MS + 15_000;
/** core: a failed background refresh is not tried again sooner than this (token-cache.ts). */
const FAILED_REFRESH_BACKOFF_MS = 30_000;
const MAX_VIOLATIONS = 50;
/** The failures the faults can cause: transient (retried, then cooled down), bad bodies, refusals. */
const EXPECTED_CODES = new Set([
  "token_request_failed",
  "throttled",
  "invalid_token_response",
  "token_request_rejected",
]);
const EXCHANGE = "api://AzureADTokenExchange";

/** mulberry32: a small, fast, seedable generator; good enough to drive a workload. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Random {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = generator(seed);
  }
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.below(16).toString(16)).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  }
}

/** The faults a second may bring, each with how many token requests it applies to. */
function drawFault(random: Random): { fault: Fault; count: number } | undefined {
  if (random.chance(0.4)) return undefined;
  const count = 1 + random.below(8);
  const retryAfter = (): Fault["retryAfter"] => {
    const roll = random.below(3);
    if (roll === 0) return undefined;
    if (roll === 1) return 1 + random.below(2);
    // An HTTP date two seconds ahead (whole seconds, so it may round to one).
    return new Date(Date.now() + 2_000);
  };
  switch (random.below(8)) {
    case 0: {
      const after = retryAfter();
      return {
        fault: {
          kind: "status",
          status: 429,
          ...(after !== undefined ? { retryAfter: after } : {}),
        },
        count,
      };
    }
    case 1: {
      const after = retryAfter();
      const status = random.pick([500, 502, 503, 504]);
      return {
        fault: { kind: "status", status, ...(after !== undefined ? { retryAfter: after } : {}) },
        count,
      };
    }
    case 2:
      return { fault: { kind: "drop" }, count };
    case 3:
      // Slower than the request timeout half of the time.
      return {
        fault: { kind: "delay", delayMs: random.chance(0.5) ? 300 : REQUEST_TIMEOUT_MS + 500 },
        count,
      };
    case 4:
      return { fault: { kind: "truncated-json" }, count };
    case 5:
      return { fault: { kind: "malformed-json" }, count };
    case 6:
      return { fault: { kind: "html", status: random.pick([502, 503]) }, count };
    default:
      return { fault: { kind: "status", status: 503, retryAfter: 1 }, count };
  }
}

/** `gc()`, exposed at run time when the process did not start with --expose-gc. */
function collector(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

async function settledHeap(gc: () => void): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed;
}

/** One per Entra app: a credential fed by one assertion source. */
interface Workload {
  name: string;
  clientId: string;
  credential: ClientAssertionCredential | undefined;
}

interface KeyStats {
  /** Calls whose request cannot share the cache: claims challenges, and aborted calls. */
  claims: number;
  aborted: number;
  rejected: number;
}

/**
 * Runs the chaos workload for `durationMs` and checks the invariants:
 * - no call returns an expired token (the access token's `exp`, and `expiresOnTimestamp`);
 * - no call returns a token for another key (its `tid`, `aud`, `appid` and `xms_cc` match the
 *   tenant, scope, app and CAE mode asked for);
 * - every failure is typed (a `FedcredError` with a code, or an `AbortError` for an aborted
 *   call), no call hangs, and no promise rejection goes unhandled;
 * - token requests stay within the bound single flight, the refresh schedule and cool-downs
 *   promise (see `requestBound`);
 * - after `close()` the heap is back to its baseline.
 *
 * @example
 * ```ts
 * const report = await runChaos({ seed: 42, durationMs: 60_000 });
 * if (report.violations.length > 0) throw new Error(report.violations.join("\n"));
 * ```
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = new Random(seed);
  const log = options.log ?? (() => {});
  const violations: string[] = [];
  let moreViolations = 0;
  const violate = (text: string): void => {
    if (violations.length < MAX_VIOLATIONS) violations.push(text);
    else moreViolations += 1;
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);

  const tenants = Array.from({ length: TENANTS }, () => random.uuid());
  const subject = "system:serviceaccount:chaos:workload";
  const workloads: Workload[] = [
    { name: "file", clientId: random.uuid(), credential: undefined },
    { name: "callback", clientId: random.uuid(), credential: undefined },
  ];
  const directory = await mkdtemp(join(tmpdir(), "fedcred-chaos-"));
  let issuer: OidcIssuer | undefined;
  let entra: EntraEmulator | undefined;
  let volume: ProjectedVolume | undefined;
  const gc = collector();

  try {
    issuer = await startIssuer();
    const theIssuer = issuer;
    entra = await startEntra({
      accessTokenLifetimeSeconds: ACCESS_TOKEN_SECONDS,
      // Entra re-reads an issuer's keys on an unknown kid; a short cache also lets a dropped key go.
      issuerCacheSeconds: 2,
      tenants: tenants.map((tenantId) => ({
        tenantId,
        resources: RESOURCES,
        apps: workloads.map(({ clientId }) => ({
          clientId,
          federatedCredentials: [{ issuer: theIssuer.url, subject, audiences: [EXCHANGE] }],
        })),
      })),
    });
    const theEntra = entra;
    const mintAssertion = () =>
      theIssuer.mint({ subject, audience: EXCHANGE, lifetimeSeconds: ASSERTION_SECONDS });
    volume = await startProjectedVolume({
      directory,
      mint: async () => ({
        token: await mintAssertion(),
        expiresAt: new Date(Date.now() + ASSERTION_SECONDS * 1000),
      }),
    });
    const theVolume = volume;

    const credentialOptions: ClientAssertionCredentialOptions = {
      authorityHost: theEntra.url,
      additionallyAllowedTenants: ["*"],
      requestTimeoutInMs: REQUEST_TIMEOUT_MS,
      retryOptions: {
        maxRetries: MAX_RETRIES,
        retryDelayInMs: 100,
        maxRetryDelayInMs: MAX_RETRY_DELAY_MS,
      },
    };
    const makeCredential = (workload: Workload): ClientAssertionCredential =>
      new ClientAssertionCredential(
        tenants[0] as string,
        workload.clientId,
        workload.name === "file" ? fromFile({ path: theVolume.path }) : mintAssertion,
        credentialOptions,
      );

    // Baseline: the modules loaded and one token fetched and dropped, so lazy loading (the
    // logger, tracing, undici's pools) is not counted as growth.
    {
      const warmUp = makeCredential(workloads[1] as Workload);
      await warmUp.getToken(`${RESOURCES[0]}/.default`);
      await warmUp.close();
    }
    theEntra.requests.length = 0;
    const requestsBefore = theEntra.tokenRequestCount;
    const baselineBytes = await settledHeap(gc);

    for (const workload of workloads) workload.credential = makeCredential(workload);

    // Counters: the run keeps aggregates, never the tokens, so its own memory stays flat.
    const errors: Record<string, number> = {};
    let calls = 0;
    let tokens = 0;
    let claimsCalls = 0;
    let abortedCalls = 0;
    let faultsPlayed = 0;
    let keyRotations = 0;
    const keyStats = new Map<string, KeyStats>();
    const okAnswers = new Map<string, number>();
    const statsOf = (key: string): KeyStats => {
      let stats = keyStats.get(key);
      if (!stats) {
        stats = { claims: 0, aborted: 0, rejected: 0 };
        keyStats.set(key, stats);
      }
      return stats;
    };
    const keysCalled = new Set<string>();
    const pending = new Set<Promise<void>>();

    // The emulator's request log, drained every second so a long run stays small: counts the
    // successful answers per key (app, tenant, resource, CAE) for the per-key bound.
    const drainRequests = (): void => {
      for (const record of theEntra.requests) {
        if (record.status !== 200 || !record.form.client_id) continue;
        const cae = (record.form.claims ?? "").includes("cp1");
        const resource = (record.form.scope ?? "").replace(/\/\.default$/, "");
        const key = `${record.form.client_id}|${record.tenant}|${resource}|${cae}`;
        okAnswers.set(key, (okAnswers.get(key) ?? 0) + 1);
      }
      theEntra.requests.length = 0;
    };

    const oneCall = async (): Promise<void> => {
      const workload = random.pick(workloads);
      const credential = workload.credential as ClientAssertionCredential;
      const tenantId = random.pick(tenants);
      const resource = random.pick(RESOURCES);
      const enableCae = random.chance(0.5);
      // A claims challenge as an Azure SDK client passes it on (decoded JSON).
      const claims = random.chance(0.01)
        ? JSON.stringify({
            access_token: {
              nbf: { essential: true, value: String(Math.floor(Date.now() / 1000)) },
            },
          })
        : undefined;
      const abortRoll = random.next();
      const controller = abortRoll < 0.06 ? new AbortController() : undefined;
      if (controller && abortRoll < 0.01) controller.abort();
      else if (controller) setTimeout(() => controller.abort(), random.below(40)).unref();
      const key = `${workload.clientId}|${tenantId}|${resource}|${enableCae}`;
      calls += 1;
      keysCalled.add(key);
      if (claims) {
        claimsCalls += 1;
        statsOf(key).claims += 1;
      }
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"hung">((resolve) => {
        timer = setTimeout(() => resolve("hung"), CALL_DEADLINE_MS);
      });
      const call = credential.getToken(`${resource}/.default`, {
        tenantId,
        enableCae,
        ...(claims ? { claims } : {}),
        ...(controller ? { abortSignal: controller.signal } : {}),
      });
      try {
        const outcome = await Promise.race([call, deadline]);
        if (outcome === "hung") {
          violate(
            `a call (${workload.name}, tenant ${tenantId}, ${resource}, cae ${enableCae}) did not settle within ${CALL_DEADLINE_MS} ms`,
          );
          call.catch(() => {});
          return;
        }
        if (outcome === null) {
          violate("getToken answered null");
          return;
        }
        const now = Date.now();
        tokens += 1;
        const claimsOf = decodeJwtPayload(outcome.token) as Record<string, unknown>;
        const exp = typeof claimsOf.exp === "number" ? claimsOf.exp * 1000 : 0;
        if (exp <= now || outcome.expiresOnTimestamp <= now) {
          violate(
            `an expired token was returned (${workload.name}, tenant ${tenantId}, ${resource}): exp ${new Date(exp).toISOString()}, expiresOnTimestamp ${new Date(outcome.expiresOnTimestamp).toISOString()}, now ${new Date(now).toISOString()}, call started ${now - started} ms before`,
          );
        }
        const caeToken = Array.isArray(claimsOf.xms_cc) && claimsOf.xms_cc.includes("cp1");
        if (
          claimsOf.tid !== tenantId ||
          claimsOf.aud !== resource ||
          claimsOf.appid !== workload.clientId ||
          caeToken !== enableCae
        ) {
          violate(
            `a token of another key was returned: asked app ${workload.clientId}, tenant ${tenantId}, ${resource}, cae ${enableCae}; got appid ${String(claimsOf.appid)}, tid ${String(claimsOf.tid)}, aud ${String(claimsOf.aud)}, cae ${caeToken}`,
          );
        }
      } catch (error) {
        const aborted = controller?.signal.aborted === true;
        if (error instanceof Error && error.name === "AbortError") {
          errors.AbortError = (errors.AbortError ?? 0) + 1;
          abortedCalls += 1;
          statsOf(key).aborted += 1;
          if (!aborted) violate("an AbortError for a call that was not aborted");
          return;
        }
        if (aborted) {
          // The signal fired after the request had already failed: counted like an abort.
          abortedCalls += 1;
          statsOf(key).aborted += 1;
        }
        if (!FedcredError.isInstance(error)) {
          violate(
            `an untyped error: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
          );
          return;
        }
        errors[error.code] = (errors[error.code] ?? 0) + 1;
        if (error.code === "token_request_rejected") statsOf(key).rejected += 1;
        // What faults may cause. Anything else is a broken invariant: an assertion source that
        // failed (the token file is swapped atomically and read through the unresolved path, so
        // a read never fails), a configuration refused, an error without a reason.
        if (!EXPECTED_CODES.has(error.code)) {
          violate(`an unexpected ${error.name} ${error.code}: ${error.message}`);
        }
        if (error.code === "token_request_rejected") {
          const codes = AuthenticationError.isInstance(error)
            ? (error.errorResponse?.errorCodes ?? [])
            : [];
          // A key the issuer dropped while Entra still sees an assertion it signed: 700027.
          if (!codes.includes(700027)) violate(`Entra refused a token request: ${error.message}`);
        }
      } finally {
        clearTimeout(timer);
      }
    };

    // Faults pushed this second, less those no request took: the attempts faults answered.
    let pushed = 0;
    const takePlayedFaults = (): number => {
      const left = theEntra.faults.queued.reduce((sum, fault) => sum + fault.remaining, 0);
      const played = pushed - left;
      pushed = 0;
      theEntra.faults.clear();
      return played;
    };

    const startedAt = Date.now();
    const endAt = startedAt + options.durationMs;
    let lastLog = startedAt;
    let second = 0;
    const fileRotationsAtStart = theVolume.rotations;
    while (Date.now() < endAt) {
      // Each second: a fresh fault draw, maybe a file rotation, maybe a key rotation.
      faultsPlayed += takePlayedFaults();
      const drawn = drawFault(random);
      if (drawn) {
        theEntra.injectFault(drawn.fault, { count: drawn.count });
        pushed = drawn.count;
      }
      const rotations: Promise<unknown>[] = [];
      for (let i = random.below(3); i > 0; i--) rotations.push(theVolume.rotate());
      if (second % 7 === 6) {
        // Every seventh second the issuer adds a key; every fourth of those drops the older ones
        // and at once projects a token of the new key, as a cluster rotating its keys would.
        const dropOld = keyRotations % 4 === 3;
        keyRotations += 1;
        rotations.push(theIssuer.rotateKeys({ dropOld }).then(() => theVolume.rotate()));
      }
      await Promise.all(rotations);

      // About 400 calls a second, in bursts of 20 every 50 ms.
      const secondEnd = Math.min(Date.now() + 1000, endAt);
      while (Date.now() < secondEnd) {
        for (let i = 0; i < 20; i++) {
          const promise = oneCall();
          pending.add(promise);
          promise.finally(() => pending.delete(promise));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      drainRequests();
      second += 1;
      if (Date.now() - lastLog >= 10_000) {
        lastLog = Date.now();
        log(
          `chaos: ${Math.round((Date.now() - startedAt) / 1000)} s, ${calls} calls, ${tokens} tokens, ${theEntra.tokenRequestCount - requestsBefore} token requests, ${violations.length} violations`,
        );
      }
    }
    faultsPlayed += takePlayedFaults();
    await Promise.all([...pending]);
    drainRequests();
    const durationMs = Date.now() - startedAt;
    const fileRotations = theVolume.rotations - fileRotationsAtStart;

    // The bound on token requests, from core's documented behaviour:
    // - an attempt answered by a fault consumes one queued fault: at most `faultsPlayed` of them
    //   (a retry is only ever caused by a fault here, since Entra refuses nothing retryable);
    // - every other attempt gets a normal answer, which ends its request (a success, or a refusal
    //   that is not retried), so they number at most the requests ("flights") themselves;
    // - per key (app, tenant, resource, CAE mode) single flight runs one request at a time, and a
    //   request starts only when no valid token is cached (a first call, after a failure) or at
    //   the refresh time, half way through the 30 s lifetime (core: "five minutes before expiry,
    //   never before half way"): successful flights of a key start at least 15 s apart, so at
    //   most 1 + duration / 15 s of them (and one more for the run's edges);
    // - a claims challenge bypasses the cache: one flight per claims call; an abort by the last
    //   caller waiting abandons a flight, so the next caller starts another: one per aborted call;
    // - a refused flight (700027 after a key drop) does not cool down: one per rejected call,
    //   plus background refreshes, which core retries no sooner than 30 s after a failure.
    // Failed flights after their retries cool down for at least 5 s (or `Retry-After`); their
    // attempts were all faults, already counted.
    const halfLifeMs = (ACCESS_TOKEN_SECONDS * 1000) / 2;
    const keysUsed = keysCalled.size;
    const successfulFlightsPerKey = 2 + Math.floor(durationMs / halfLifeMs);
    let rejectedCalls = 0;
    for (const stats of keyStats.values()) rejectedCalls += stats.rejected;
    const backgroundRefusals = keysUsed * (1 + Math.floor(durationMs / FAILED_REFRESH_BACKOFF_MS));
    const tokenRequestBound =
      faultsPlayed +
      keysUsed * successfulFlightsPerKey +
      claimsCalls +
      abortedCalls +
      rejectedCalls +
      backgroundRefusals;
    const tokenRequests = theEntra.tokenRequestCount - requestsBefore;
    if (tokenRequests > tokenRequestBound) {
      violate(`${tokenRequests} token requests, over the bound of ${tokenRequestBound}`);
    }
    // The same, per key, for successful answers: the cache must not fetch a valid token again.
    for (const [key, answered] of okAnswers) {
      const stats = keyStats.get(key) ?? { claims: 0, aborted: 0, rejected: 0 };
      const bound = successfulFlightsPerKey + stats.claims + stats.aborted;
      if (answered > bound) {
        violate(`key ${key} got ${answered} tokens from Entra, over its bound of ${bound}`);
      }
    }

    // close(): afterwards calls are refused, and the heap goes back to its baseline.
    for (const workload of workloads) await workload.credential?.close();
    try {
      await workloads[0]?.credential?.getToken(`${RESOURCES[0]}/.default`);
      violate("getToken after close() answered a token");
    } catch (error) {
      if (!FedcredError.isInstance(error) || error.code !== "credential_closed") {
        violate(`getToken after close() failed with ${String(error)} instead of credential_closed`);
      }
    }
    const released = workloads.map((workload) => new WeakRef(workload.credential as object));
    for (const workload of workloads) workload.credential = undefined;
    keyStats.clear();
    okAnswers.clear();
    keysCalled.clear();
    await theVolume.close();
    const afterCloseBytes = await settledHeap(gc);
    // Nothing (a timer, a socket, a flight, a listener) may still hold a closed credential.
    if (released.some((reference) => reference.deref() !== undefined)) {
      violate(
        "a closed and released credential was not garbage-collected: something still holds it",
      );
    }
    // Node's heap moves by a MB or two between idle measurements (bytecode compiled on the way,
    // the emulator's pools); 96 keys of cached tokens, their flights and timers left behind by
    // the run would be more.
    const allowedGrowthBytes = 6 * 1024 * 1024;
    if (afterCloseBytes - baselineBytes > allowedGrowthBytes) {
      violate(
        `the heap grew from ${mb(baselineBytes)} to ${mb(afterCloseBytes)} after close(), more than ${mb(allowedGrowthBytes)}`,
      );
    }
    // Let rejections of the last microtasks surface before counting them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const reason of unhandled) {
      violate(
        `an unhandled rejection: ${reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)}`,
      );
    }

    return {
      seed,
      durationMs,
      calls,
      tokens,
      errors,
      claimsCalls,
      abortedCalls,
      tokenRequests,
      tokenRequestBound,
      faultsPlayed,
      fileRotations,
      keyRotations,
      heap: { baselineBytes, afterCloseBytes, allowedGrowthBytes },
      violations,
      moreViolations,
    };
  } finally {
    process.off("unhandledRejection", onUnhandled);
    for (const workload of workloads) await workload.credential?.close();
    await volume?.close();
    await entra?.close();
    await issuer?.close();
    await rm(directory, { recursive: true, force: true });
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** `--minutes N`, `--seconds N`, `--seed S`. */
function parseArguments(argv: readonly string[]): { seed?: number; durationMs: number } {
  let durationMs = 60_000;
  let seed: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = argv[i + 1];
    const number = Number(value);
    if (name === "--") continue;
    if (
      (name === "--minutes" || name === "--seconds" || name === "--seed") &&
      (value === undefined || !Number.isFinite(number) || number < 0)
    ) {
      throw new Error(
        `${name} needs a non-negative number, got ${value === undefined ? "nothing" : JSON.stringify(value)}`,
      );
    }
    if (name === "--minutes") durationMs = number * 60_000;
    else if (name === "--seconds") durationMs = number * 1000;
    else if (name === "--seed") seed = Math.floor(number);
    else
      throw new Error(
        `unknown argument ${JSON.stringify(name)}: use --minutes N, --seconds N, --seed S`,
      );
    i += 1;
  }
  return seed === undefined ? { durationMs } : { seed, durationMs };
}

/** The CLI: prints the seed first, the report last; exit 1 when an invariant broke. */
export async function main(argv: readonly string[]): Promise<number> {
  let parsed: { seed?: number; durationMs: number };
  try {
    parsed = parseArguments(argv);
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}`);
    return 2;
  }
  const seed = parsed.seed ?? Math.floor(Math.random() * 2 ** 31);
  console.log(
    `chaos: seed ${seed} (replay with --seed ${seed}), ${Math.round(parsed.durationMs / 1000)} s`,
  );
  const report = await runChaos({
    seed,
    durationMs: parsed.durationMs,
    log: (line) => console.log(line),
  });
  const { violations, moreViolations, ...figures } = report;
  console.log(JSON.stringify(figures, null, 2));
  if (violations.length > 0) {
    console.error(`chaos: ${violations.length + moreViolations} broken invariants (seed ${seed}):`);
    for (const violation of violations) console.error(`- ${violation}`);
    if (moreViolations > 0) console.error(`- and ${moreViolations} more`);
    console.error(`chaos: replay with --seed ${seed}`);
    return 1;
  }
  console.log(`chaos: every invariant held (seed ${seed})`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
  // Everything was closed: a process that does not end now is itself a leak.
  setTimeout(() => {
    console.error("chaos: something kept the process alive 10 s after the run was closed");
    process.exit(code === 0 ? 1 : code);
  }, 10_000).unref();
}
