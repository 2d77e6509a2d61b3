// The setup file of every test file of the reliability project (vitest.config.ts): logs at
// verbose level, captures every line, records every credential that gets a token and every
// token and error it hands out, and fails the file if a secret shows anywhere.
import { format } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { ClientAssertionCredential } from "@fedcred/core";
import { afterAll, expect } from "vitest";
import {
  captureLine,
  findLeaks,
  recordSecret,
  recordSeen,
  resetCapture,
} from "./secrets-capture.js";

process.env.AZURE_LOG_LEVEL = "verbose";
setLogLevel("verbose");
resetCapture();

// @azure/logger's lines (core's `fedcred` logger among them) go to the capture, not the
// terminal: a verbose run would drown the test output. FEDCRED_TEST_LOGS=1 prints them too.
const printLogs = process.env.FEDCRED_TEST_LOGS === "1";
const writeToStderr = process.stderr.write.bind(process.stderr);
AzureLogger.log = (...args: unknown[]): void => {
  const line = format(...args);
  captureLine(line);
  if (printLogs) writeToStderr(`${line}\n`);
};

const WRAPPED = Symbol.for("fedcred.reliability.wrapped");
type Holder = { [WRAPPED]?: boolean };

if (!(globalThis as Holder)[WRAPPED]) {
  (globalThis as Holder)[WRAPPED] = true;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      captureLine(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]): void => {
      captureLine(format(...args));
      original(...args);
    };
  }
  // Every credential that gets a token, every token and every error it hands out, in every
  // test file of the project, without each test having to record them.
  const prototype = ClientAssertionCredential.prototype;
  const getToken = prototype.getToken;
  prototype.getToken = function recordedGetToken(
    this: ClientAssertionCredential,
    ...args: Parameters<typeof getToken>
  ) {
    recordSeen(this);
    return getToken.apply(this, args).then(
      (token) => {
        recordSecret("an access token the credential returned", token.token);
        recordSeen(token);
        return token;
      },
      (error: unknown) => {
        recordSeen(error);
        throw error;
      },
    );
  };
}

afterAll(() => {
  const leaks = findLeaks();
  expect(
    leaks,
    `secrets showed in logs or printed errors: ${JSON.stringify(leaks.slice(0, 5), null, 2)}`,
  ).toEqual([]);
});
