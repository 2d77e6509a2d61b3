declare const __PACKAGE_VERSION__: string;

/** The version of `@fedcred/cli`, set at build time from its package.json. */
export const VERSION: string = __PACKAGE_VERSION__;
