import type { ServerResponse } from "node:http";
import { brotliCompressSync, constants, deflateSync, gzipSync } from "node:zlib";
import { entraErrorBody, refusals } from "./entra-errors.js";

/**
 * A failure the token endpoint plays instead of (or before) its normal answer.
 *
 * - `status`: answers `status` (default 503) with an Entra error body and optional `Retry-After`;
 * - `delay`: waits `delayMs`, then answers normally;
 * - `drop`: destroys the connection without an answer;
 * - `truncated-json`: answers 200 with the first half of a token response;
 * - `malformed-json`: answers 200 with a body that is not JSON;
 * - `html`: answers `status` (default 502) with an HTML error page, as a proxy in front would;
 * - `truncated-body`: answers 200 with a `Content-Length` of a whole token response, sends the
 *   first half of it, then destroys the connection;
 * - `token-response`: answers 200 with a token response changed by `fields` (set) and `omit`
 *   (removed): no `access_token`, an `expires_in` missing or nonsense;
 * - `redirect`: answers `status` (default 302) with `Location: location` (none when unset);
 * - `oversized`: answers 200 with a JSON token response padded to `bytes` (default 2 MiB);
 * - `compressed-bomb`: answers 200 with `Content-Encoding: encoding` (default `gzip`) and a
 *   small body that decodes to `bytes` (default 16 MiB) of JSON-looking padding.
 *
 * Every kind waits `delayMs` first when it is set.
 *
 * @example
 * ```ts
 * const fault: Fault = { kind: "status", status: 429, retryAfter: 2 };
 * entra.injectFault(fault, { count: 3 });
 * entra.injectFault({ kind: "redirect", status: 307, location: "https://elsewhere.example/token" });
 * entra.injectFault({ kind: "token-response", omit: ["access_token"] });
 * ```
 */
export interface Fault {
  kind:
    | "status"
    | "delay"
    | "drop"
    | "truncated-json"
    | "malformed-json"
    | "html"
    | "truncated-body"
    | "token-response"
    | "redirect"
    | "oversized"
    | "compressed-bomb";
  status?: number;
  /** `Retry-After`: seconds, or a date sent in HTTP-date form. */
  retryAfter?: number | string | Date;
  delayMs?: number;
  /** `redirect`: the `Location` header. */
  location?: string;
  /** `token-response`: fields set on the token response (`expires_in: "soon"`, say). */
  fields?: Record<string, unknown>;
  /** `token-response`: fields removed from the token response (`access_token`, `expires_in`). */
  omit?: string[];
  /** `oversized`: the body's size; `compressed-bomb`: its size once decoded. In bytes. */
  bytes?: number;
  /** `compressed-bomb`: the `Content-Encoding`. */
  encoding?: "gzip" | "deflate" | "br";
}

/**
 * A queued fault and how many more requests it applies to.
 *
 * @example
 * ```ts
 * const [next]: QueuedFault[] = entra.faults.queued;
 * next?.remaining;
 * ```
 */
export type QueuedFault<F extends object = Fault> = F & { remaining: number };

/**
 * A queue of faults: each request takes the first one, which applies to its next `remaining`
 * requests. Entra's token endpoint queues {@link Fault}s; the emulated STS queues its own kind.
 *
 * @example
 * ```ts
 * const faults = new FaultQueue();
 * faults.push({ kind: "status", status: 429, retryAfter: 2 }, 3);
 * ```
 */
export class FaultQueue<F extends object = Fault> {
  readonly queued: QueuedFault<F>[] = [];

  /** `check` throws for a fault the endpoint could not play, when it is pushed. */
  constructor(private readonly check?: (fault: F) => void) {}

  /** Queues `fault` for the next `count` requests (default 1). */
  push(fault: F, count = 1): void {
    if (!Number.isInteger(count) || count < 1)
      throw new TypeError("count must be a positive integer");
    this.check?.(fault);
    this.queued.push({ ...fault, remaining: count });
  }

  /** Takes the fault for the current request, if any. */
  take(): F | undefined {
    const head = this.queued[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) this.queued.shift();
    const { remaining: _remaining, ...fault } = head;
    return fault as unknown as F;
  }

  clear(): void {
    this.queued.length = 0;
  }
}

function retryAfterHeader(value: Fault["retryAfter"]): Record<string, string> {
  if (value === undefined) return {};
  if (value instanceof Date) return { "retry-after": value.toUTCString() };
  return { "retry-after": String(value) };
}

/**
 * Waits `ms`, unless the connection closes first (a client gave up, or the server is closing):
 * `true` when the wait ran out, `false` when the connection closed.
 *
 * @example
 * ```ts
 * if (!(await waitWhileOpen(response, 5_000))) return; // the client went away
 * ```
 */
export function waitWhileOpen(response: ServerResponse, ms: number): Promise<boolean> {
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      response.off("close", onClose);
      resolve(true);
    }, ms);
    response.once("close", onClose);
  });
}

const HTML_PAGE = `<!DOCTYPE html>
<html><head><title>Service Unavailable</title></head>
<body><h1>Service Unavailable</h1><p>The service is temporarily unavailable. Please try again later.</p></body></html>
`;

/** A token response as Entra sends it, with an access token that is no real JWT. */
function tokenResponse(): Record<string, unknown> {
  return {
    token_type: "Bearer",
    expires_in: 3599,
    ext_expires_in: 3599,
    access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9",
  };
}

const DEFAULT_OVERSIZED_BYTES = 2 * 1024 * 1024;
const DEFAULT_BOMB_BYTES = 16 * 1024 * 1024;
const MAX_FAULT_BYTES = 256 * 1024 * 1024;
const bombs = new Map<string, Buffer>();

function faultBytes(value: number | undefined, fallback: number): number {
  const bytes = value ?? fallback;
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > MAX_FAULT_BYTES) {
    throw new RangeError(`a fault's bytes must be a whole number from 1 to ${MAX_FAULT_BYTES}`);
  }
  return bytes;
}

/** `bytes` of a JSON object's start and padding, compressed; kept, as compressing is slow. */
function bomb(encoding: "gzip" | "deflate" | "br", bytes: number): Buffer {
  const key = `${encoding}:${bytes}`;
  let compressed = bombs.get(key);
  if (compressed === undefined) {
    const plain = Buffer.alloc(bytes, 0x20);
    plain.write('{"access_token":"');
    // Brotli's default quality takes seconds on 16 MiB; quality 1 still packs it into a few KiB.
    compressed =
      encoding === "gzip"
        ? gzipSync(plain, { level: 9 })
        : encoding === "deflate"
          ? deflateSync(plain, { level: 9 })
          : brotliCompressSync(plain, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
    bombs.set(key, compressed);
  }
  return compressed;
}

/** Writes `size` bytes of a padded token response in chunks, honouring backpressure. */
async function writePadded(response: ServerResponse, size: number): Promise<void> {
  const head = Buffer.from('{"token_type":"Bearer","expires_in":3599,"padding":"');
  const tail = Buffer.from('","access_token":"eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"}');
  let remaining = Math.max(0, size - head.length - tail.length);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  if (!response.write(head)) await drained(response);
  while (remaining > 0 && !response.destroyed) {
    const piece = remaining >= chunk.length ? chunk : chunk.subarray(0, remaining);
    remaining -= piece.length;
    if (!response.write(piece)) await drained(response);
  }
  response.end(tail);
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off("drain", done);
      response.off("close", done);
      resolve();
    };
    response.once("drain", done);
    response.once("close", done);
  });
}

/**
 * Plays `fault` on `response`. Answers `true` when the request is finished, `false` when the
 * endpoint should go on and answer normally (a pure delay).
 *
 * @example
 * ```ts
 * const fault = faults.take();
 * if (fault && (await playFault(fault, response))) return;
 * ```
 */
export async function playFault(fault: Fault, response: ServerResponse): Promise<boolean> {
  if (fault.delayMs && !(await waitWhileOpen(response, fault.delayMs))) return true;
  switch (fault.kind) {
    case "delay":
      return false;
    case "drop":
      response.socket?.destroy();
      return true;
    case "status": {
      const body = JSON.stringify(entraErrorBody(refusals.transient()));
      response.writeHead(fault.status ?? 503, {
        "content-type": "application/json; charset=utf-8",
        ...retryAfterHeader(fault.retryAfter),
      });
      response.end(body);
      return true;
    }
    case "truncated-json": {
      const whole = JSON.stringify({
        token_type: "Bearer",
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9",
      });
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
      });
      response.end(whole.slice(0, Math.floor(whole.length / 2)));
      return true;
    }
    case "malformed-json":
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
      });
      response.end("{token_type: Bearer, <not json>");
      return true;
    case "html":
      response.writeHead(fault.status ?? 502, {
        "content-type": "text/html; charset=utf-8",
        ...retryAfterHeader(fault.retryAfter),
      });
      response.end(HTML_PAGE);
      return true;
    case "truncated-body": {
      const whole = Buffer.from(JSON.stringify(tokenResponse()));
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": String(whole.length),
      });
      response.write(whole.subarray(0, Math.floor(whole.length / 2)), () =>
        response.socket?.destroy(),
      );
      return true;
    }
    case "token-response": {
      const answer = { ...tokenResponse(), ...fault.fields };
      for (const name of fault.omit ?? []) delete answer[name];
      const text = JSON.stringify(answer);
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(text)),
      });
      response.end(text);
      return true;
    }
    case "redirect":
      response.writeHead(fault.status ?? 302, {
        "content-length": "0",
        ...(fault.location !== undefined ? { location: fault.location } : {}),
      });
      response.end();
      return true;
    case "oversized": {
      const bytes = faultBytes(fault.bytes, DEFAULT_OVERSIZED_BYTES);
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
      });
      await writePadded(response, bytes);
      return true;
    }
    case "compressed-bomb": {
      const encoding = fault.encoding ?? "gzip";
      const body = bomb(encoding, faultBytes(fault.bytes, DEFAULT_BOMB_BYTES));
      response.writeHead(fault.status ?? 200, {
        "content-type": "application/json; charset=utf-8",
        "content-encoding": encoding,
        "content-length": String(body.length),
      });
      response.end(body);
      return true;
    }
  }
}
