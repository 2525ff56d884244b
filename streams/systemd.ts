/**
 * systemd socket activation (sd_listen_fds(3)): the service manager opens
 * and binds the listening sockets, then starts the service with them as
 * descriptors 3, 4, ... and says so in LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES. The sockets outlive the service, so a restart refuses no
 * connection: they wait in the kernel's queue until the new process accepts.
 */
import * as sys from '../reactor/sys';

/** One socket systemd passed to this process. */
export interface SystemdListener {
  /** The descriptor: pass it to `serve({ fd })` or `listen({ fd })`. */
  fd: number;
  /** Its FileDescriptorName= (LISTEN_FDNAMES), or 'unknown' as sd_listen_fds_with_names(3) says. */
  name: string;
}

/** SD_LISTEN_FDS_START. */
const FIRST_FD = 3;

/**
 * The sockets systemd passed to this process, or none. As sd_listen_fds(3)
 * does, it ignores variables meant for another process (LISTEN_PID is not
 * ours), marks the descriptors close-on-exec, and (unless
 * `unsetEnvironment: false`) removes the variables so that a child process
 * does not take them for its own.
 *
 * @example
 * // /etc/systemd/system/app.socket: ListenStream=80, FileDescriptorName=web
 * const [web] = systemdListeners();
 * const server = serve(web ? { fd: web.fd } : { port: 8080 }, handler);
 */
export function systemdListeners(options: { unsetEnvironment?: boolean } = {}): SystemdListener[] {
  const env = process.env;
  const pid = env.LISTEN_PID;
  const count = env.LISTEN_FDS;
  const names = env.LISTEN_FDNAMES;
  if (options.unsetEnvironment !== false) {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    delete env.LISTEN_FDNAMES;
  }
  if (pid === undefined || count === undefined || !/^\d+$/.test(pid) || Number(pid) !== process.pid) return [];
  if (!/^\d+$/.test(count)) return [];
  const n = Number(count);
  const named = names === undefined ? [] : names.split(':');
  const out: SystemdListener[] = [];
  for (let i = 0; i < n; i++) {
    const fd = FIRST_FD + i;
    sys.inherit(fd);
    out.push({ fd, name: named[i] || 'unknown' });
  }
  return out;
}
