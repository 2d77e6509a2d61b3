import type { AssertionFunc } from "@fedcred/core";
import { UsageError } from "./usage-error.js";

/** Where `fedcred token` gets its client assertion. */
export type Source =
  | { kind: "file"; path?: string }
  | { kind: "projected"; path?: string }
  | { kind: "kubernetes"; namespace?: string; serviceAccount: string }
  | { kind: "aws" }
  | { kind: "certificate"; path?: string };

/** The `--source` forms, for help texts and errors. */
export const SOURCE_FORMS =
  "file[:PATH], projected[:PATH], kubernetes:[NAMESPACE/]SERVICEACCOUNT, aws, certificate[:PATH]";

/** Reads `--source`. Throws a {@link UsageError} for anything else. */
export function parseSource(value: string): Source {
  const colon = value.indexOf(":");
  const kind = colon === -1 ? value : value.slice(0, colon);
  const argument = colon === -1 ? undefined : value.slice(colon + 1);
  const path = argument === undefined || argument === "" ? {} : { path: argument };
  switch (kind) {
    case "file":
    case "projected":
    case "certificate":
      return { kind, ...path };
    case "aws":
      if (argument !== undefined) {
        throw new UsageError(
          "--source aws takes no argument: the region, credentials and endpoint come from the AWS environment (AWS_REGION, the SDK's default credential chain, AWS_ENDPOINT_URL_STS).",
        );
      }
      return { kind };
    case "kubernetes": {
      const parts = (argument ?? "").split("/");
      const serviceAccount = parts.at(-1) ?? "";
      if (serviceAccount === "" || parts.length > 2 || parts[0] === "") {
        throw new UsageError(
          `--source kubernetes needs the service account: kubernetes:NAMESPACE/SERVICEACCOUNT (or kubernetes:SERVICEACCOUNT for the kubeconfig context's namespace), got ${JSON.stringify(value)}.`,
        );
      }
      return parts.length === 2
        ? { kind, namespace: parts[0] as string, serviceAccount }
        : { kind, serviceAccount };
    }
    default:
      throw new UsageError(`Unknown --source ${JSON.stringify(value)}: use ${SOURCE_FORMS}.`);
  }
}

/**
 * On Node 20 the AWS SDK warns on every run that its releases from 2027 need Node 22. This
 * command ships a pinned SDK, so the warning tells its users nothing they can act on. A value
 * the user set wins.
 */
export function quietAwsSdkOnNode20(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}

/**
 * The provider's assertion function for a source, its package imported only now. The factories
 * check their options at once and throw `CredentialUnavailableError`s that name the option and
 * the environment variable.
 */
export async function assertionFor(source: Source): Promise<AssertionFunc> {
  switch (source.kind) {
    case "file": {
      const { fromFile } = await import("@fedcred/file");
      return fromFile(source.path === undefined ? {} : { path: source.path });
    }
    case "projected": {
      const { fromProjectedServiceAccountToken } = await import("@fedcred/kubernetes");
      return fromProjectedServiceAccountToken(
        source.path === undefined ? {} : { path: source.path },
      );
    }
    case "kubernetes": {
      const { fromServiceAccountToken } = await import("@fedcred/kubernetes");
      return fromServiceAccountToken({
        serviceAccount: source.serviceAccount,
        ...(source.namespace === undefined ? {} : { namespace: source.namespace }),
      });
    }
    case "aws": {
      quietAwsSdkOnNode20();
      const { fromAwsWebIdentityToken } = await import("@fedcred/aws");
      return fromAwsWebIdentityToken();
    }
    case "certificate": {
      const { fromCertificate } = await import("@fedcred/certificate");
      return fromCertificate(source.path === undefined ? {} : { certificatePath: source.path });
    }
  }
}
