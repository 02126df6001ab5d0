'use strict';
// The services every tether plugin serves besides its own interfaces
// (docs/protocol.md, section 2): grpc.health.v1.Health, go-plugin's
// GRPCController and GRPCStdio, and tether.v1.Plugin/Describe.

const grpc = require('@grpc/grpc-js');
const pb = require('./protos');

// Health serves grpc.health.v1.Health for the services "plugin" (which
// hosts ping) and "" (the whole server).
class Health {
  constructor() {
    this.status = new Map([['', 'SERVING'], ['plugin', 'SERVING']]);
    this.watchers = new Set();
  }

  // stopServing marks every service NOT_SERVING, tells the watchers, and
  // ends their streams.
  stopServing() {
    for (const name of this.status.keys()) this.status.set(name, 'NOT_SERVING');
    for (const w of this.watchers) {
      w.write({ status: 'NOT_SERVING' });
      w.end();
    }
    this.watchers.clear();
  }

  register(server) {
    server.addService(pb.grpc.health.v1.Health.service, {
      Check: (call, done) => {
        const status = this.status.get(call.request.service);
        if (status === undefined) {
          done({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
          return;
        }
        done(null, { status });
      },
      Watch: (call) => {
        call.write({ status: this.status.get(call.request.service) || 'SERVICE_UNKNOWN' });
        if (this.status.get(call.request.service) === 'NOT_SERVING') {
          call.end();
          return;
        }
        this.watchers.add(call);
        call.on('cancelled', () => this.watchers.delete(call));
      },
    });
  }
}

// registerGoPlugin serves go-plugin's controller (Shutdown calls
// onShutdown once the answer is on its way) and an empty stdio stream held
// open until the plugin stops (the streams set; the caller ends them).
function registerGoPlugin(server, onShutdown, streams) {
  server.addService(pb.plugin.GRPCController.service, {
    Shutdown: (call, done) => {
      done(null, {});
      setImmediate(onShutdown);
    },
  });
  server.addService(pb.plugin.GRPCStdio.service, {
    StreamStdio: (call) => {
      streams.add(call);
      call.on('cancelled', () => streams.delete(call));
    },
  });
}

// describeAnswer is the plugin's DescribeResponse: each interface version
// lists its services and their methods, read from the loaded service
// definitions so that the answer cannot drift from what is served.
function describeAnswer({ name, protocolVersions, interfaces, features }) {
  return {
    name,
    protocol_versions: protocolVersions,
    interfaces: interfaces.map(({ name: iface, version, services }) => ({
      name: iface,
      version,
      services: services.map((svc) => {
        const paths = Object.values(svc).map((m) => m.path); // "/pkg.Service/Method"
        return {
          name: paths[0].split('/')[1],
          methods: paths.map((p) => p.split('/')[2]),
        };
      }),
    })),
    tether_protocol: 1,
    features,
  };
}

// registerDescribe serves tether.v1.Plugin/Describe (Metrics is left
// unimplemented: hosts take UNIMPLEMENTED as "no metrics") and returns the
// answer serialized, for the handshake line.
function registerDescribe(server, answer) {
  const svc = pb.tether.v1.Plugin.service;
  server.addService(svc, { Describe: (call, done) => done(null, answer) });
  return svc.Describe.responseSerialize(answer);
}

module.exports = { Health, registerGoPlugin, describeAnswer, registerDescribe };
