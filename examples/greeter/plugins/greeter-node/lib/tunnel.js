'use strict';
// Callbacks (docs/protocol.md, section 4): the host opens a
// tether.v1.Callbacks/Tunnel stream whose frames carry the bytes of a second
// HTTP/2 connection on which this plugin is the gRPC client. grpc-js cannot
// run a client on a ready-made byte stream, so each tunnel gets a bridge: a
// private Unix socket, a grpc-js channel dialling it, and the one accepted
// connection's bytes copied to and from the stream's frames.

const EventEmitter = require('events');
const net = require('net');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const pb = require('./protos');
const log = require('./log');

const SESSION_KEY = 'tether-session';
const MAX_FRAME = 32 << 10;

// sessionOf returns the tether-session of metadata: undefined when absent,
// or an Error when it is malformed or ambiguous.
function sessionOf(metadata) {
  const values = new Set(metadata.get(SESSION_KEY).map(String));
  if (values.size === 0) return undefined;
  if (values.size > 1) return new Error(`${SESSION_KEY}: ${values.size} different values`);
  const [id] = values;
  if (!/^[0-9a-f]{32}$/.test(id)) return new Error(`${SESSION_KEY} ${JSON.stringify(id)} is not 32 lowercase hexadecimal characters`);
  return id;
}

// Tunnels holds the open tunnels, one per host session (a newer one
// replaces its session's older one), in the order they were opened.
class Tunnels extends EventEmitter {
  // dir is the plugin's private directory; files, the set of paths the
  // plugin removes on exit, gets each bridge socket.
  constructor(dir, files) {
    super();
    this.dir = dir;
    this.files = files;
    this.seq = 0;
    this.bySession = new Map();
    this.open = []; // oldest first
    this.closed = false;
  }

  register(server) {
    server.addService(pb.tether.v1.Callbacks.service, { Tunnel: (call) => this.accept(call) });
  }

  // accept bridges one Tunnel stream, refusing one without a valid session.
  accept(call) {
    const session = sessionOf(call.metadata);
    if (session === undefined || session instanceof Error || this.closed) {
      const details = this.closed ? 'the plugin is shutting down'
        : session ? session.message : `no ${SESSION_KEY} metadata: the host must name its session`;
      call.emit('error', { code: this.closed ? grpc.status.UNAVAILABLE : grpc.status.INVALID_ARGUMENT, details });
      return;
    }
    const sock = path.join(this.dir, `t-${process.pid}-${++this.seq}.sock`);
    this.files.add(sock);
    const t = { session, call, channel: null, clients: new Map(), ended: false };
    const bridge = net.createServer({ allowHalfOpen: false }, (conn) => {
      bridge.close(); // one connection per tunnel; the path goes with it
      t.conn = conn;
      pipe(conn, call, () => this.end(t));
    });
    t.bridge = bridge;
    call.on('error', () => this.end(t));
    call.on('cancelled', () => this.end(t));
    call.on('end', () => this.end(t));
    bridge.listen(sock, () => {
      if (t.ended) return;
      t.channel = new grpc.Channel(`unix:${sock}`, grpc.credentials.createInsecure(), {});
      const old = this.bySession.get(session);
      this.bySession.set(session, t);
      this.open.push(t);
      if (old) this.open.splice(this.open.indexOf(old), 1); // old calls finish or fail on their own
      log.debug('callback tunnel open', { session });
      this.emit('changed');
    });
  }

  // end closes tunnel t's stream, bridge and channel, once.
  end(t) {
    if (t.ended) return;
    t.ended = true;
    if (this.bySession.get(t.session) === t) this.bySession.delete(t.session);
    const i = this.open.indexOf(t);
    if (i >= 0) this.open.splice(i, 1);
    t.bridge.close();
    if (t.conn) t.conn.destroy();
    if (t.channel) t.channel.close();
    try { t.call.end(); } catch { /* already ended */ }
    this.emit('changed');
  }

  // closeAll ends every tunnel and refuses new ones (shutdown).
  closeAll() {
    this.closed = true;
    for (const t of [...this.bySession.values(), ...this.open]) this.end(t);
  }

  // client returns a client of service Ctor (a loaded service constructor)
  // on the tunnel of session (or, with session null, on the newest open
  // tunnel), waiting for one until deadline or until call (the RPC being
  // served, if any) is cancelled; it rejects with UNAVAILABLE.
  client(Ctor, session, deadline, call) {
    return new Promise((resolve, reject) => {
      let done = false;
      let timer;
      const finish = (why, client) => {
        done = true;
        this.off('changed', pick);
        if (call) call.off('cancelled', cancelled);
        clearTimeout(timer);
        if (why) reject(Object.assign(new Error(why), { code: grpc.status.UNAVAILABLE }));
        else resolve(client);
      };
      const cancelled = () => finish('the call was cancelled while waiting for a callback tunnel');
      const pick = () => {
        if (this.closed) return finish('the plugin is shutting down');
        const t = session ? this.bySession.get(session) : this.open[this.open.length - 1];
        if (!t || !t.channel) return;
        if (!t.clients.has(Ctor)) t.clients.set(Ctor, new Ctor('unused', null, { channelOverride: t.channel }));
        finish(null, t.clients.get(Ctor));
      };
      pick();
      if (done) return;
      this.on('changed', pick);
      if (call) call.on('cancelled', cancelled);
      const wait = deadline === Infinity ? 2 ** 31 - 1 : Math.max(0, new Date(deadline).getTime() - Date.now());
      timer = setTimeout(() => finish(`no callback tunnel for host session ${session}`), Math.min(wait, 2 ** 31 - 1));
    });
  }
}

// pipe copies conn's bytes into the stream's frames (at most 32 KiB each)
// and the frames' bytes into conn, with back-pressure both ways, and calls
// done when either side ends.
function pipe(conn, call, done) {
  conn.on('data', (chunk) => {
    let ok = true;
    for (let off = 0; off < chunk.length; off += MAX_FRAME) {
      ok = call.write({ data: chunk.subarray(off, off + MAX_FRAME) }) && ok;
    }
    if (!ok) {
      conn.pause();
      call.once('drain', () => conn.resume());
    }
  });
  call.on('data', (frame) => {
    if (!conn.write(frame.data)) {
      call.pause();
      conn.once('drain', () => call.resume());
    }
  });
  conn.on('error', done);
  conn.on('close', done);
}

module.exports = { Tunnels, sessionOf };
