/**
 * The unprivileged uid:gid app and build containers run as: the worker owns release directories
 * by it (workers/apps), and SSH sessions exec as it (ssh/container-exec.ts).
 */
export const appUser = { uid: 10001, gid: 10001 };
