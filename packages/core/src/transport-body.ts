import { pipeline, type Readable, type Transform } from "node:stream";
import { FedcredError } from "./errors.js";

/** The cap on a body, and the error to throw once it is passed. */
export interface BodyLimit {
  readonly maxBodyBytes: number;
  tooLarge(): Error;
  /** The error for a content-encoding fedcred does not decode, or bytes that do not decode. */
  undecodable(encoding: string, cause?: unknown): Error;
}

/**
 * The part of a web `ReadableStream` (the body of a `fetch` response) read here.
 *
 * @example
 * ```ts
 * const body: WebBodyLike | null = (await fetch(url)).body;
 * ```
 */
export interface WebBodyLike {
  getReader(): {
    read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
    cancel(reason?: unknown): Promise<void>;
  };
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
  return Buffer.from(String(chunk));
}

/** A body gathered chunk by chunk, failing as soon as it passes the cap. */
class CappedText {
  readonly #chunks: Buffer[] = [];
  #length = 0;
  readonly #limit: BodyLimit;

  constructor(limit: BodyLimit) {
    this.#limit = limit;
  }

  add(chunk: unknown): void {
    const bytes = toBuffer(chunk);
    this.#length += bytes.length;
    if (this.#length > this.#limit.maxBodyBytes) throw this.#limit.tooLarge();
    this.#chunks.push(bytes);
  }

  text(): string {
    return Buffer.concat(this.#chunks, this.#length).toString("utf8");
  }
}

/** Reads an async-iterable body (a Node stream) whole, under the cap on its bytes. */
export async function readIterableBody(
  source: AsyncIterable<unknown>,
  limit: BodyLimit,
): Promise<string> {
  const text = new CappedText(limit);
  // Leaving the loop early (the cap) destroys the stream.
  for await (const chunk of source) text.add(chunk);
  return text.text();
}

/** Reads a web stream whole, under the cap; cancels it when the cap is passed. */
export async function readWebBody(body: WebBodyLike, limit: BodyLimit): Promise<string> {
  const reader = body.getReader();
  const text = new CappedText(limit);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text.text();
      if (value !== undefined) text.add(value);
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  }
}

/** The codings of a `content-encoding` header in the order to undo them (last applied first). */
export function contentCodings(header: string | null): string[] {
  if (header === null) return [];
  return header
    .split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== "identity")
    .reverse();
}

let zlibModule: Promise<typeof import("node:zlib")> | undefined;

function decoderFor(zlib: typeof import("node:zlib"), coding: string): Transform | undefined {
  switch (coding) {
    case "gzip":
    case "x-gzip":
      return zlib.createGunzip();
    case "deflate":
      return zlib.createInflate();
    case "br":
      return zlib.createBrotliDecompress();
    default:
      return undefined;
  }
}

/**
 * Reads a raw HTTP body (a socket's bytes), undoing its `content-encoding` as it streams, and
 * stops as soon as the decoded bytes pass the cap: a small compressed answer cannot grow into
 * a large one in memory. On any failure the source is destroyed with the decoders.
 */
export async function readEncodedBody(
  source: Readable,
  contentEncoding: string | null,
  limit: BodyLimit,
): Promise<string> {
  const steps = contentCodings(contentEncoding);
  if (steps.length === 0) return readIterableBody(source, limit);
  // Listen before the first await: an unheard 'error' would crash the process.
  let sourceError: unknown;
  source.once("error", (error) => (sourceError ??= error));
  zlibModule ??= import("node:zlib");
  const zlib = await zlibModule;
  const decoders: Transform[] = [];
  for (const coding of steps) {
    const decoder = decoderFor(zlib, coding);
    if (decoder === undefined) {
      for (const created of decoders) created.destroy();
      source.destroy();
      throw limit.undecodable(contentEncoding ?? coding);
    }
    decoders.push(decoder);
  }
  let decodeError: unknown;
  for (const decoder of decoders) decoder.once("error", (error) => (decodeError ??= error));
  const decoded = pipeline([source, ...decoders], () => {}) as unknown as Readable;
  try {
    return await readIterableBody(decoded, limit);
  } catch (error) {
    source.destroy();
    if (FedcredError.isInstance(error)) throw error;
    // A broken connection is the connection's failure; bytes that do not decode are the body's.
    if (sourceError !== undefined) throw sourceError;
    if (decodeError !== undefined) throw limit.undecodable(contentEncoding ?? "", decodeError);
    throw error;
  }
}
