import { createClientLogger } from "@azure/logger";

/** The `fedcred` logger of `@azure/logger`: `AZURE_LOG_LEVEL=info` shows one line per token request. */
export const logger: ReturnType<typeof createClientLogger> = createClientLogger("fedcred");
