import { readFile, stat } from "node:fs/promises";
import { looksLikeJwt } from "./jwt.js";
import { UsageError } from "./usage-error.js";

/** Tokens are a few kilobytes; anything past this is not one. */
export const MAX_TOKEN_BYTES: number = 1024 * 1024;

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_TOKEN_BYTES)
      throw new Error("stdin holds more than 1 MiB: that is not a token.");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Where the text came from, for messages, and the text. */
export interface TokenInput {
  origin: string;
  text: string;
}

/**
 * The text of `FILE`, of stdin for `-`, or of `AZURE_FEDERATED_TOKEN_FILE` when no argument is
 * given. An argument that is no file but looks like a JWT is refused with a pointer to stdin, so
 * tokens stay out of shell history and the process list.
 */
export async function readTokenInput(
  argument: string | undefined,
  stdin: NodeJS.ReadableStream,
  env: NodeJS.ProcessEnv,
): Promise<TokenInput> {
  if (argument === "-") {
    const text = await readStream(stdin);
    if (text.trim() === "") {
      throw new Error(
        'stdin was empty: pipe the token in, such as echo "$TOKEN" | fedcred inspect -.',
      );
    }
    return { origin: "stdin", text };
  }
  const path = argument ?? env.AZURE_FEDERATED_TOKEN_FILE;
  if (path === undefined || path === "") {
    throw new UsageError(
      "No token to inspect: pass a FILE, - to read stdin, or set AZURE_FEDERATED_TOKEN_FILE.",
    );
  }
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if (argument !== undefined && looksLikeJwt(argument)) {
      throw new UsageError(
        'That argument is a token, not a file: pipe it on stdin instead (echo "$TOKEN" | fedcred inspect -), which keeps it out of shell history and the process list.',
      );
    }
    throw new Error(
      `Cannot read ${path}${argument === undefined ? " (AZURE_FEDERATED_TOKEN_FILE)" : ""}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
    );
  }
  if (size > MAX_TOKEN_BYTES) throw new Error(`${path} is larger than 1 MiB: that is not a token.`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new Error(
      `Cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`,
    );
  }
  if (text.trim() === "") {
    throw new Error(
      `${path}${argument === undefined ? " (AZURE_FEDERATED_TOKEN_FILE)" : ""} is empty: no token to inspect.`,
    );
  }
  return { origin: path, text };
}
