import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { CredentialUnavailableError } from "@fedcred/core";

const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Seals values with AES-256-GCM, the Redis key as associated data: a value copied to another key
 * does not open. The first key seals; every key opens (rotation).
 */
export class Sealer {
  readonly #keys: readonly KeyObject[];

  readonly #nameKeys: readonly KeyObject[];

  constructor(keys: readonly KeyObject[]) {
    this.#keys = keys;
    // A key of its own per encryption key (HKDF), for the names of Redis keys.
    this.#nameKeys = keys.map((key) =>
      createSecretKey(
        Buffer.from(
          hkdfSync("sha256", key.export(), Buffer.alloc(0), "fedcred redis key name v1", 32),
        ),
      ),
    );
  }

  /**
   * The names `key` (the credential's hash of authority, tenant, client id, scopes and CAE
   * mode) has in Redis, one per encryption key, the first one's first: an HMAC-SHA256,
   * base64url. The credential's hash alone would let a reader of Redis confirm a guessed
   * tenant, client id and scope (tenant ids are public); without the key it cannot.
   */
  names(key: string): string[] {
    return this.#nameKeys.map((nameKey) =>
      createHmac("sha256", nameKey).update(key, "utf8").digest("base64url"),
    );
  }

  /** `value` sealed for `redisKey`, as base64: version, IV, ciphertext, tag. */
  seal(redisKey: string, value: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#keys[0] as KeyObject, iv);
    cipher.setAAD(Buffer.from(redisKey, "utf8"));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.of(VERSION), iv, body, cipher.getAuthTag()]).toString("base64");
  }

  /** The value sealed for `redisKey`, or `undefined` when no key opens it (another key, tampered, garbage). */
  open(redisKey: string, sealed: string): string | undefined {
    const bytes = Buffer.from(sealed, "base64");
    if (bytes.length < 1 + IV_BYTES + TAG_BYTES || bytes[0] !== VERSION) return undefined;
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const body = bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES);
    const tag = bytes.subarray(bytes.length - TAG_BYTES);
    for (const key of this.#keys) {
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, iv);
        decipher.setAAD(Buffer.from(redisKey, "utf8"));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(body), decipher.final()]).toString("utf8");
      } catch {
        // Not this key: try the next one.
      }
    }
    return undefined;
  }
}

/**
 * The encryption keys as secret key objects (whose printed form shows no key material), from
 * 32 bytes, 64 hex digits or base64 of 32 bytes, or a list of them.
 */
export function encryptionKeys(value: unknown): KeyObject[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) {
    throw invalid("options.encryptionKey is an empty list: give at least one 32-byte key.");
  }
  return list.map((item, index) => {
    const name = Array.isArray(value) ? `options.encryptionKey[${index}]` : "options.encryptionKey";
    const bytes = keyBytes(item, name);
    // A placeholder (Buffer.alloc(32), "0".repeat(64), a byte repeated) is not a key.
    if (bytes.every((byte) => byte === bytes[0])) {
      throw invalid(
        `${name} is 32 copies of one byte, a placeholder rather than a key: generate one with openssl rand -base64 32.`,
      );
    }
    return createSecretKey(bytes);
  });
}

function keyBytes(item: unknown, name: string): Buffer {
  if (item instanceof Uint8Array) {
    if (item.byteLength === 32) return Buffer.from(item);
    throw invalid(`${name} must be 32 bytes (AES-256), got ${item.byteLength} bytes.`);
  }
  if (typeof item === "string") {
    const text = item.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, "hex");
    if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
      const bytes = Buffer.from(text.replace(/-/g, "+").replace(/_/g, "/"), "base64");
      if (bytes.length === 32) return bytes;
    }
    // Never echo the string: it may be a key of the wrong length.
    throw invalid(
      `${name} must be 32 bytes: a Buffer, 64 hex digits or base64 of 32 bytes (openssl rand -base64 32); got a string of ${text.length} characters that is none of these.`,
    );
  }
  throw invalid(
    `${name} must be 32 bytes: a Buffer or Uint8Array, 64 hex digits or base64 (openssl rand -base64 32); got ${item === null ? "null" : typeof item}.`,
  );
}

function invalid(message: string): CredentialUnavailableError {
  return new CredentialUnavailableError(message, "invalid_configuration");
}
