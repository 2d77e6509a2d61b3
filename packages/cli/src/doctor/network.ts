import { createTransport, isLoopbackHostname } from "@fedcred/core";
import type { Check } from "./checks.js";

/** In the order `@azure/core-rest-pipeline` (and fedcred's transport) reads them. */
const PROXY_VARIABLES = [
  "HTTPS_PROXY",
  "https_proxy",
  "ALL_PROXY",
  "all_proxy",
  "HTTP_PROXY",
  "http_proxy",
];

function authorityUrl(authorityHost: string): URL {
  return new URL(
    /^[a-z][a-z0-9+.-]*:\/\//i.test(authorityHost) ? authorityHost : `https://${authorityHost}`,
  );
}

/**
 * Which proxy token requests to the authority use, from the environment, its credentials never
 * shown. (NO_PROXY is quoted, not evaluated here: the reachability check below goes through the
 * transport itself, which applies it.)
 */
export function describeProxy(env: NodeJS.ProcessEnv, authorityHost: string): Check {
  const chosen = PROXY_VARIABLES.find((name) => env[name]);
  const noProxyName = ["NO_PROXY", "no_proxy"].find((name) => env[name]);
  const noProxy = noProxyName === undefined ? "" : `; ${noProxyName}=${env[noProxyName]}`;
  if (chosen === undefined) {
    return {
      check: "proxy",
      ok: true,
      detail: `none of ${PROXY_VARIABLES.filter((name) => name === name.toUpperCase()).join(", ")} is set: direct connections${noProxy}`,
      fix: null,
    };
  }
  const value = env[chosen] as string;
  let proxy: URL | undefined;
  try {
    proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    proxy = undefined;
  }
  if (
    proxy === undefined ||
    proxy.hostname === "" ||
    !["http:", "https:"].includes(proxy.protocol)
  ) {
    return {
      check: "proxy",
      ok: false,
      detail: `${chosen} is set but is not an http(s) proxy URL (its value is not shown: it may hold a password)`,
      fix: `Set ${chosen} to a URL such as http://proxy.corp.example:3128, or unset it.`,
    };
  }
  const credentials = proxy.username ? " (with credentials, not shown)" : "";
  const origin = `${proxy.protocol}//${proxy.host}`;
  const host = authorityUrl(authorityHost).hostname;
  if (isLoopbackHostname(host)) {
    return {
      check: "proxy",
      ok: true,
      detail: `${chosen}=${origin}${credentials} is set, but ${host} is a loopback host, which is never proxied${noProxy}`,
      fix: null,
    };
  }
  return {
    check: "proxy",
    ok: true,
    detail: `${chosen}=${origin}${credentials}: token requests to ${host} go through it${noProxyName === undefined ? "" : ` unless ${noProxyName} lists ${host}`}${noProxy}`,
    fix: null,
  };
}

/**
 * Whether the authority answers the tenant's OpenID configuration, through the same transport
 * (proxy, TLS trust, redirect refusal) token requests use.
 */
export async function checkAuthority(
  authorityHost: string,
  tenantId: string,
  timeoutInMs: number,
): Promise<Check> {
  const base = authorityUrl(authorityHost).href.replace(/\/+$/, "");
  const url = `${base}/${encodeURIComponent(tenantId)}/v2.0/.well-known/openid-configuration`;
  const transport = createTransport();
  const started = performance.now();
  try {
    const response = await transport.send({
      url,
      method: "GET",
      timeoutInMs,
      maxBodyBytes: 256 * 1024,
    });
    const elapsed = Math.round(performance.now() - started);
    let body: { token_endpoint?: unknown; error_codes?: unknown; error_description?: unknown } = {};
    try {
      body = JSON.parse(response.body);
    } catch {
      // Judged by the status below.
    }
    if (response.status === 200 && typeof body.token_endpoint === "string") {
      return {
        check: "authority reachable",
        ok: true,
        detail: `${base} answered in ${elapsed} ms; token endpoint ${body.token_endpoint}`,
        fix: null,
      };
    }
    const codes = Array.isArray(body.error_codes) ? body.error_codes : [];
    if (codes.includes(90002) || codes.includes(900023)) {
      return {
        check: "authority reachable",
        ok: false,
        detail: `${base} does not know the tenant ${tenantId} (AADSTS${codes.join(", ")})`,
        fix: "Check AZURE_TENANT_ID, and that AZURE_AUTHORITY_HOST is the cloud the tenant lives in (public, US Government or China).",
      };
    }
    return {
      check: "authority reachable",
      ok: false,
      detail: `${url} answered HTTP ${response.status}${typeof body.error_description === "string" ? `: ${body.error_description.split("\r\n")[0]}` : ""}`,
      fix: "Check AZURE_AUTHORITY_HOST: it must be the Entra authority host (such as https://login.microsoftonline.com), or a gateway that serves the same paths.",
    };
  } catch (error) {
    return {
      check: "authority reachable",
      ok: false,
      detail: `${base}: ${(error as Error).message}`,
      fix: "Check the route to the authority host: DNS, firewall and egress rules, the proxy variables above; a TLS-inspecting proxy's CA goes in NODE_EXTRA_CA_CERTS.",
    };
  } finally {
    transport.close();
  }
}
