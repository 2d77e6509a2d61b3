export { FEDCRED_ALLOW_EXECUTABLES, type FromExecOptions, fromExec } from "./from-exec.js";
