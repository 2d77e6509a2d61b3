import { invalidConfiguration } from "./errors.js";
import type { ProxySettings } from "./options.js";
import { isLoopbackHostname } from "./url-safety.js";

/**
 * The proxy one request goes through. Its credentials are kept in a private field, so neither
 * `util.inspect` nor `JSON.stringify` of it shows them.
 */
export class ProxyRoute {
  /** The proxy's origin, without user info: safe to print. */
  readonly uri: string;
  /** Where it was configured: `proxyOptions` or the variable's name (`HTTPS_PROXY`, ...). */
  readonly source: string;
  readonly #authorization: string | undefined;

  constructor(uri: string, source: string, authorization: string | undefined) {
    this.uri = uri;
    this.source = source;
    this.#authorization = authorization;
  }

  /** The `Proxy-Authorization` value (Basic), when the proxy was given credentials. */
  authorization(): string | undefined {
    return this.#authorization;
  }

  toJSON(): { uri: string; source: string } {
    return { uri: this.uri, source: this.source };
  }
}

interface NoProxyRule {
  /** Lower case, without brackets; a leading dot matches the domain and its subdomains. */
  host: string;
  port: number | undefined;
}

/** Which proxy, if any, each request goes through. */
export interface ProxyRules {
  /**
   * The proxy for `url`, or `undefined` to connect directly (no proxy configured, a loopback
   * host, or `NO_PROXY` lists it). Throws a `CredentialUnavailableError` when the proxy from
   * the environment is not a usable URL.
   */
  routeFor(url: URL): ProxyRoute | undefined;
}

const PROXY_VARIABLES = ["HTTPS_PROXY", "ALL_PROXY", "HTTP_PROXY"] as const;

/** `env[NAME]`, else `env[name]`; an empty value counts as unset. */
function environmentValue(
  env: NodeJS.ProcessEnv,
  name: string,
): { name: string; value: string } | undefined {
  for (const candidate of [name, name.toLowerCase()]) {
    const value = env[candidate];
    if (value) return { name: candidate, value };
  }
  return undefined;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** A proxy URL as `new URL` reads it; a bare `host:port` gets `http://`. */
function parseProxyUrl(value: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return new URL(withScheme);
  } catch {
    return undefined;
  }
}

function checkScheme(url: URL, source: string): void {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw invalidConfiguration(
      `The proxy from ${source} uses ${url.protocol.slice(0, -1)}; fedcred supports http and https proxies only.`,
    );
  }
}

function routeFromSettings(settings: ProxySettings): ProxyRoute {
  const url = typeof settings?.host === "string" ? parseProxyUrl(settings.host) : undefined;
  if (url === undefined || url.hostname === "") {
    throw invalidConfiguration(
      'proxyOptions.host must be the proxy\'s URL, such as "http://proxy.corp.example".',
    );
  }
  checkScheme(url, "proxyOptions");
  const port = settings.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidConfiguration(
      `proxyOptions.port must be a port number from 1 to 65535, got ${String(port)}.`,
    );
  }
  url.port = String(port);
  const authorization = settings.username
    ? basic(settings.username, settings.password ?? "")
    : undefined;
  return new ProxyRoute(`${url.protocol}//${url.host}`, "proxyOptions", authorization);
}

function routeFromEnvironment(name: string, value: string): ProxyRoute {
  const url = parseProxyUrl(value);
  if (url === undefined || url.hostname === "") {
    // The value may hold a password: never quote it.
    throw invalidConfiguration(
      `${name} is not a proxy URL such as http://proxy.corp.example:3128.`,
    );
  }
  checkScheme(url, name);
  const authorization = url.username
    ? basic(decodeURIComponent(url.username), decodeURIComponent(url.password))
    : undefined;
  return new ProxyRoute(`${url.protocol}//${url.host}`, name, authorization);
}

function parseNoProxy(value: string | undefined): NoProxyRule[] {
  if (!value) return [];
  const rules: NoProxyRule[] = [];
  for (const entry of value.split(",")) {
    let host = entry.trim().toLowerCase();
    if (host === "") continue;
    let port: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
    if (bracketed) {
      host = bracketed[1] ?? "";
      port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
    } else {
      const colon = host.indexOf(":");
      // One colon: host:port. More: a bare IPv6 address, which has no port here.
      if (colon > 0 && colon === host.lastIndexOf(":") && /^\d+$/.test(host.slice(colon + 1))) {
        port = Number(host.slice(colon + 1));
        host = host.slice(0, colon);
      }
    }
    if (host.startsWith("*.")) host = host.slice(1);
    rules.push({ host, port });
  }
  return rules;
}

function bypasses(rules: readonly NoProxyRule[], url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return rules.some((rule) => {
    if (rule.port !== undefined && rule.port !== port) return false;
    if (rule.host === "*") return true;
    if (rule.host.startsWith(".")) return host === rule.host.slice(1) || host.endsWith(rule.host);
    return host === rule.host;
  });
}

/**
 * Reads the proxy configuration once, as `@azure/core-rest-pipeline`'s proxy policy does:
 * `proxyOptions` when given, else `HTTPS_PROXY`, then `ALL_PROXY`, then `HTTP_PROXY` (each in
 * upper case, then lower case), with `NO_PROXY` / `no_proxy` (comma-separated; a leading dot
 * or `*.` matches a domain and its subdomains, `*` matches every host, `:port` narrows an entry
 * to one port) applying to both. Loopback hosts never go through a proxy.
 *
 * Invalid `proxyOptions` throw here; an invalid variable fails the requests that would use it.
 */
export function readProxyRules(
  proxyOptions: ProxySettings | undefined,
  env: NodeJS.ProcessEnv,
): ProxyRules {
  let route: ProxyRoute | undefined;
  let failure: string | undefined;
  if (proxyOptions !== undefined) {
    route = routeFromSettings(proxyOptions);
  } else {
    const found = PROXY_VARIABLES.map((name) => environmentValue(env, name)).find(Boolean);
    if (found !== undefined) {
      try {
        route = routeFromEnvironment(found.name, found.value);
      } catch (error) {
        failure = (error as Error).message;
      }
    }
  }
  const noProxy = parseNoProxy(environmentValue(env, "NO_PROXY")?.value);
  return {
    routeFor(url) {
      if (route === undefined && failure === undefined) return undefined;
      if (isLoopbackHostname(url.hostname) || bypasses(noProxy, url)) return undefined;
      if (failure !== undefined) throw invalidConfiguration(failure);
      return route;
    },
  };
}
