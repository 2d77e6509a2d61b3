import { AuthenticationError, FedcredError } from "@fedcred/core";
import { type CommandContext, writeLine } from "./context.js";
import { isFicMismatch } from "./entra-rules.js";
import { UsageError } from "./usage-error.js";

function fedcredJson(error: FedcredError): Record<string, unknown> {
  // toJSON holds name, code, message and (for AuthenticationError) the status, Entra's error
  // body and ids: never the assertion or a token.
  return error.toJSON();
}

/** A tip of the CLI's own after core's message, when a command of this CLI helps further. */
function tipFor(error: unknown): string | undefined {
  if (!AuthenticationError.isInstance(error)) return undefined;
  if (!isFicMismatch(error.errorResponse?.errorCodes ?? [])) return undefined;
  return "Compare a token with a federated credential field by field: fedcred inspect TOKEN_FILE --issuer ISSUER --subject SUBJECT --audience api://AzureADTokenExchange (the app's credentials: az ad app federated-credential list --id CLIENT_ID).";
}

/**
 * Writes a command's failure to stderr: core's message (which carries its hint, the AADSTS
 * codes and Entra's ids, and never a secret), or with `--json` the error's JSON.
 */
export function reportError(
  error: unknown,
  command: string,
  context: CommandContext,
  json: boolean,
): void {
  const { stderr, err } = context;
  if (error instanceof UsageError) {
    writeLine(stderr, `${err.red("error:")} ${error.message}`);
    writeLine(stderr, `Run '${command} --help' for usage and examples.`);
    return;
  }
  const tip = tipFor(error);
  if (json) {
    const body = FedcredError.isInstance(error)
      ? fedcredJson(error)
      : {
          name: (error as Error)?.name ?? "Error",
          message: String((error as Error)?.message ?? error),
        };
    writeLine(
      stderr,
      JSON.stringify({ error: tip === undefined ? body : { ...body, tip } }, null, 2),
    );
    return;
  }
  if (FedcredError.isInstance(error)) {
    const status =
      AuthenticationError.isInstance(error) && error.statusCode !== undefined
        ? `, HTTP ${error.statusCode}`
        : "";
    // The base class (invalid_jwt) keeps Error's name.
    const name = error.name === "Error" ? "error" : error.name;
    writeLine(stderr, `${err.red(`${name} (${error.code}${status}):`)} ${error.message}`);
  } else {
    writeLine(
      stderr,
      `${err.red("error:")} ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (tip !== undefined) writeLine(stderr, err.dim(tip));
}
