'use strict';
// The .proto files the plugin serves, loaded at start with
// @grpc/proto-loader: the greeter interface and tether's Plugin, Callbacks
// and Echo services straight from the repository, and the plugin's own
// copies of the standard health service and go-plugin's two services.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const here = path.join(__dirname, '..');
const repo = path.join(here, '..', '..', '..', '..');

const definition = protoLoader.loadSync(
  [
    'greeter/v1/greeter.proto',
    'tether/v1/plugin.proto',
    'tether/echo/v1/echo.proto',
    'grpc/health/v1/health.proto',
    'plugin/grpc_controller.proto',
    'plugin/grpc_stdio.proto',
  ],
  {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    includeDirs: [
      path.join(here, 'proto'),
      path.join(repo, 'examples', 'greeter', 'proto'),
      path.join(repo, 'proto'),
    ],
  },
);

module.exports = grpc.loadPackageDefinition(definition);
