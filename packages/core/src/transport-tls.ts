import { readFileSync } from "node:fs";
import type { SecureContext } from "node:tls";
import { evictOldest } from "./bounded-map.js";
import { CredentialUnavailableError } from "./errors.js";
import type { TlsSettings } from "./options.js";

/** TLS settings for one destination, beating `tlsOptions.ca` there (the AKS token proxy). */
export interface DestinationTls {
  /** The only CAs trusted for this destination. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** The name sent as SNI and checked against the server's certificate, instead of the host. */
  servername?: string;
}

/** A secure context and the key that tells it apart (agents and pools are kept per key). */
export interface TlsChoice {
  key: string;
  /** `undefined`: Node's defaults (its CAs, `NODE_EXTRA_CA_CERTS`, no client certificate). */
  secureContext: SecureContext | undefined;
}

const MAX_CONTEXTS = 8;

type CaValue = string | Buffer | Array<string | Buffer>;

function list(ca: CaValue): Array<string | Buffer> {
  return Array.isArray(ca) ? ca : [ca];
}

function keyOf(ca: CaValue): string {
  return list(ca)
    .map((value) => (typeof value === "string" ? value : value.toString("latin1")))
    .join("\0");
}

/** The CAs Node trusts by default: its bundled roots and `NODE_EXTRA_CA_CERTS`. */
function defaultCertificates(tls: typeof import("node:tls")): string[] {
  // Node 22.15+ says it itself; before, `rootCertificates` lacks the extra certificates.
  const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] })
    .getCACertificates;
  if (typeof getCACertificates === "function") return getCACertificates("default");
  const extra: string[] = [];
  const extraFile = process.env.NODE_EXTRA_CA_CERTS;
  if (extraFile) {
    try {
      extra.push(readFileSync(extraFile, "utf8"));
    } catch {
      // Node warned about it at startup and trusts nothing extra either.
    }
  }
  return [...tls.rootCertificates, ...extra];
}

/**
 * The secure contexts of one transport, built on first use: `tlsOptions.ca` adds to Node's
 * CAs (a bare `ca` option would replace them), a destination's own `ca` replaces them, and the
 * client certificate of `tlsOptions` goes with every destination.
 */
export class TlsContexts {
  readonly #settings: TlsSettings | undefined;
  // Promises, so concurrent first requests build a context (140 CAs) once.
  readonly #contexts = new Map<string, Promise<SecureContext | undefined>>();

  constructor(settings: TlsSettings | undefined) {
    this.#settings = settings;
  }

  async choose(destination: DestinationTls | undefined): Promise<TlsChoice> {
    const ownCa = destination?.ca;
    const key = ownCa === undefined ? "" : keyOf(ownCa);
    let created = this.#contexts.get(key);
    if (created === undefined) {
      evictOldest(this.#contexts, MAX_CONTEXTS, "");
      created = this.#create(ownCa);
      this.#contexts.set(key, created);
      // A configuration error is thrown afresh to every request.
      created.catch(() => this.#contexts.delete(key));
    }
    return { key, secureContext: await created };
  }

  async #create(ownCa: CaValue | undefined): Promise<SecureContext | undefined> {
    const settings = this.#settings ?? {};
    const clientCertificate =
      settings.cert !== undefined || settings.key !== undefined || settings.pfx !== undefined;
    if (ownCa === undefined && settings.ca === undefined && !clientCertificate) return undefined;
    const tls = await import("node:tls");
    let ca: Array<string | Buffer> | undefined;
    if (ownCa !== undefined) ca = list(ownCa);
    else if (settings.ca !== undefined) ca = [...defaultCertificates(tls), ...list(settings.ca)];
    try {
      return tls.createSecureContext({
        ca,
        cert: settings.cert,
        key: settings.key,
        passphrase: settings.passphrase,
        pfx: settings.pfx,
      });
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const what = ownCa === undefined ? "tlsOptions" : "The CA given for this destination";
      throw new CredentialUnavailableError(
        `${what} could not be loaded${typeof code === "string" ? ` (${code})` : ""}: check that ca, cert and key are PEM, pfx is PKCS#12 and passphrase opens key or pfx.`,
        "invalid_configuration",
        { cause: error },
      );
    }
  }
}
