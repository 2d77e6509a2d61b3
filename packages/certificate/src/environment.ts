/**
 * The environment variable holding the path of a PEM or PKCS#12 file with the certificate and
 * its private key, read when neither `certificatePath` nor `certificate` is given.
 *
 * @example
 * ```ts
 * import { AZURE_CLIENT_CERTIFICATE_PATH } from "@fedcred/certificate";
 *
 * console.log(`certificate from ${process.env[AZURE_CLIENT_CERTIFICATE_PATH]}`);
 * ```
 */
export const AZURE_CLIENT_CERTIFICATE_PATH = "AZURE_CLIENT_CERTIFICATE_PATH";
/**
 * The environment variable holding the password of that file (a PKCS#12 file, or an encrypted
 * PEM key). It goes with `AZURE_CLIENT_CERTIFICATE_PATH` only, never with a certificate given
 * in the options.
 *
 * @example
 * ```ts
 * import { AZURE_CLIENT_CERTIFICATE_PASSWORD } from "@fedcred/certificate";
 *
 * const hasPassword = Boolean(process.env[AZURE_CLIENT_CERTIFICATE_PASSWORD]);
 * ```
 */
export const AZURE_CLIENT_CERTIFICATE_PASSWORD = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
/**
 * The environment variable that, set to `true` or `1` (any case), sends the certificate chain
 * in the `x5c` header (subject name and issuer trust).
 *
 * @example
 * ```ts
 * import { AZURE_CLIENT_SEND_CERTIFICATE_CHAIN } from "@fedcred/certificate";
 *
 * process.env[AZURE_CLIENT_SEND_CERTIFICATE_CHAIN] = "true";
 * ```
 */
export const AZURE_CLIENT_SEND_CERTIFICATE_CHAIN = "AZURE_CLIENT_SEND_CERTIFICATE_CHAIN";
