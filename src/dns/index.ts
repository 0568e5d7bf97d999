import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from '../core/log.ts';
import { connectRedis } from '../core/redis.ts';
import { subscribeEvents } from '../events/stream.ts';
import { Responder } from './responder.ts';
import { createDnsTcpServer } from './tcp.ts';
import { applyEvent, createZone, type Zone, type ZoneConfig } from './zone.ts';

export interface DnsOptions extends ZoneConfig {
  /** Address to listen on (UDP and TCP). `::` listens on IPv6 and, where the system allows, IPv4. */
  host: string;
  /** Port for UDP and TCP; 53 in production. 0 picks a free one (the same for both). */
  port: number;
  redisUrl: string;
  /** How long an idle TCP connection is kept. Default 10 s (RFC 7766). */
  tcpIdleTimeoutMs?: number;
}

export interface DnsHandle {
  port: number;
  /** The live zone (apps, databases, serial), for tests and diagnostics. */
  zone: Zone;
  close(): Promise<void>;
}

const seconds = () => Math.floor(Date.now() / 1000);

/**
 * Gasper's authoritative DNS. The zone is folded from the event stream (snapshot, then live
 * events), so names follow deploys and deletions without polling, and a restart rebuilds it.
 * UDP and TCP share one responder: ordinary queries take a fast path (cached, pre-encoded
 * answers patched with the query's id and question); anything unusual goes through dns2.
 */
export async function startDns(options: DnsOptions, deps: { log: Logger }): Promise<DnsHandle> {
  const log = deps.log.child({ service: 'dns' });
  const zone = createZone(options, seconds());
  const responder = new Responder(zone);
  const subscription = subscribeEvents(
    connectRedis(options.redisUrl),
    (event) => {
      if (applyEvent(zone, event, seconds())) responder.zoneChanged();
    },
    log,
  );

  const createUdp = () => {
    const udp = dgram.createSocket({ type: net.isIPv6(options.host) ? 'udp6' : 'udp4' });
    const onSent = (err: Error | null) => {
      if (err) log.debug({ err: err.message }, 'udp send failed');
    };
    udp.on('message', (msg, rinfo) => {
      try {
        const response = responder.answer(msg, 'udp');
        if (response) udp.send(response, rinfo.port, rinfo.address, onSent);
      } catch (err) {
        // A packet must never take the server down; one that breaks the responder is dropped.
        log.debug({ err: (err as Error).message, from: rinfo.address }, 'dropped a packet that could not be answered');
      }
    });
    return udp;
  };

  const { server: tcp, destroyConnections } = createDnsTcpServer(
    (message) => responder.answer(message, 'tcp'),
    { idleTimeoutMs: options.tcpIdleTimeoutMs ?? 10_000, maxConnections: 1024 },
    log,
  );
  tcp.on('error', (err) => log.error({ err }, 'tcp server error'));

  let udp: dgram.Socket | undefined;
  const closeSockets = async () => {
    destroyConnections();
    await Promise.allSettled([
      new Promise<void>((resolve) => (udp ? udp.close(() => resolve()) : resolve())),
      new Promise<void>((resolve) => (tcp.listening ? tcp.close(() => resolve()) : resolve())),
    ]);
  };
  try {
    await subscription.ready;
    const bound = await listenBoth(tcp, createUdp, options.host, options.port);
    udp = bound.udp;
    const port = bound.port;
    udp.on('error', (err) => log.error({ err }, 'udp socket error'));
    try {
      udp.setRecvBufferSize(4 * 1024 * 1024); // absorbs bursts; the kernel caps it at rmem_max
    } catch {
      /* keep the default */
    }
    log.info(
      { port, host: options.host, zone: zone.apex, apps: zone.apps.size, databases: zone.databases.size },
      'dns listening',
    );
    let closing: Promise<void> | undefined;
    return {
      port,
      zone,
      close() {
        closing ??= (async () => {
          await Promise.allSettled([closeSockets(), subscription.close()]);
        })();
        return closing;
      },
    };
  } catch (err) {
    await Promise.allSettled([closeSockets(), subscription.close()]);
    throw err;
  }
}

/**
 * Binds TCP and UDP to one port. With port 0, TCP picks a free port and UDP takes the same; if
 * another process holds that UDP port, a few other ports are tried.
 */
async function listenBoth(
  tcp: net.Server,
  createUdp: () => dgram.Socket,
  host: string,
  port: number,
): Promise<{ udp: dgram.Socket; port: number }> {
  for (let attempt = 0; ; attempt++) {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    const bound = (tcp.address() as net.AddressInfo).port;
    const udp = createUdp();
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ port: bound, address: host, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      return { udp, port: bound };
    } catch (err) {
      try {
        udp.close();
      } catch {
        /* never bound */
      }
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      if (port !== 0 || attempt >= 5) throw err;
    }
  }
}
