'use strict';
// Logs as JSON lines on stderr, in log/slog's JSON shape (time, level, msg,
// then attributes): a tether host turns each line back into a record of its
// own logger at the same level, with plugin=NAME (docs/protocol.md, section 5).

const fs = require('fs');

// write writes text on a file descriptor synchronously, so that nothing is
// lost when the process exits right after; once the host is gone the pipe
// fails (EPIPE) and the text is dropped.
function write(fd, text) {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') return;
    }
  }
}

// attrValue makes an attribute JSON-friendly: errors become their message.
function attrValue(v) {
  return v instanceof Error ? v.message : v;
}

function record(level, msg, attrs) {
  const rec = { time: new Date().toISOString(), level, msg };
  for (const [k, v] of Object.entries(attrs || {})) rec[k] = attrValue(v);
  write(2, JSON.stringify(rec) + '\n');
}

module.exports = {
  write,
  debug: (msg, attrs) => record('DEBUG', msg, attrs),
  info: (msg, attrs) => record('INFO', msg, attrs),
  warn: (msg, attrs) => record('WARN', msg, attrs),
  error: (msg, attrs) => record('ERROR', msg, attrs),
};
