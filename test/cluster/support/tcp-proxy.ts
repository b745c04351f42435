import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of the shared PostgreSQL. `cut()` plays a database restart for
 * Lanyard alone: every open connection is reset and new ones are refused, while the real server
 * (which other tests use concurrently) keeps running. `restore()` listens again on the same port.
 * `blackHole()` plays a failover or a network partition: the connections open now stay open and
 * carry nothing more, either way, with no reset; new connections work.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Client sockets whose connection carries nothing more (blackHole). */
  private readonly silenced = new WeakSet<Socket>();
  private readonly clients = new Set<Socket>();
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await proxy.restore();
    return proxy;
  }

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      // Forwarded by hand rather than piped: a silenced connection drops what it receives.
      client.on('data', (chunk) => this.silenced.has(client) || upstream.write(chunk));
      upstream.on('data', (chunk) => this.silenced.has(client) || client.write(chunk));
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Resets every connection and stops listening: connects now fail with ECONNREFUSED. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.resetAndDestroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The connections open now carry nothing more, either way, and are not closed; new ones work. Resolves how many. */
  blackHole(): number {
    for (const client of this.clients) this.silenced.add(client);
    return this.clients.size;
  }

  async close(): Promise<void> {
    await this.cut();
  }
}
