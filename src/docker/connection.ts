import Docker from 'dockerode';

/** `unix:///path` or `tcp://host:port` (DOCKER_HOST syntax) → dockerode options; default: the local socket. */
export function dockerFromHost(dockerHost: string | undefined): Docker {
  if (!dockerHost) return new Docker();
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  return new Docker({
    host: url.hostname,
    port: Number(url.port) || 2375,
    protocol: url.protocol === 'https:' ? 'https' : 'http',
  });
}
