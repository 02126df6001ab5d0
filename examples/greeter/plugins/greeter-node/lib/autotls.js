'use strict';
// Automatic mutual TLS (docs/protocol.md, section 1, PLUGIN_CLIENT_CERT): a
// one-time self-signed certificate for "localhost", as tether's and
// go-plugin's plugins make. Node's crypto module makes the P-256 key and the
// signature but has no API to build a certificate, so the few DER
// structures of one (RFC 5280) are written here.

const crypto = require('crypto');

// der encodes one DER element: tag, length, contents.
function der(tag, ...parts) {
  const body = Buffer.concat(parts);
  let len;
  if (body.length < 0x80) {
    len = Buffer.from([body.length]);
  } else {
    const n = [];
    for (let v = body.length; v > 0; v >>= 8) n.unshift(v & 0xff);
    len = Buffer.from([0x80 | n.length, ...n]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...parts) => der(0x30, ...parts);
const set = (...parts) => der(0x31, ...parts);
const utf8 = (s) => der(0x0c, Buffer.from(s));
const bool = der(0x01, Buffer.from([0xff]));
const octets = (...parts) => der(0x04, ...parts);
const bits = (bytes) => der(0x03, Buffer.from([0]), bytes); // no unused bits

function oid(dotted) {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const v of rest) {
    const sub = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) sub.unshift(0x80 | (x & 0x7f));
    out.push(...sub);
  }
  return der(0x06, Buffer.from(out));
}

// time is a UTCTime (years before 2050) or a GeneralizedTime.
function time(d) {
  const s = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(s.slice(2))) : der(0x18, Buffer.from(s));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const HOST = 'localhost';

// generate returns a fresh P-256 key and a self-signed CA certificate for
// "localhost" (server and client authentication), valid from a minute ago
// for ten years: { certPem, keyPem, der }.
function generate() {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = crypto.randomBytes(16);
  serial[0] &= 0x7f; // a positive INTEGER
  const name = seq(
    set(seq(oid('2.5.4.10'), utf8('tether plugin'))),
    set(seq(oid('2.5.4.3'), utf8(HOST))),
  );
  const now = Date.now();
  const extensions = seq(
    // keyUsage, critical: digitalSignature, keyEncipherment, keyCertSign
    seq(oid('2.5.29.15'), bool, octets(der(0x03, Buffer.from([0x02, 0xa4])))),
    // extKeyUsage: serverAuth, clientAuth
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
    // basicConstraints, critical: CA (the peer trusts exactly this certificate)
    seq(oid('2.5.29.19'), bool, octets(seq(bool))),
    // subjectAltName: DNS localhost
    seq(oid('2.5.29.17'), octets(seq(der(0x82, Buffer.from(HOST))))),
  );
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))), // version 3
    der(0x02, serial),
    ECDSA_SHA256,
    name,
    seq(time(new Date(now - 60e3)), time(new Date(now + 10 * 365 * 24 * 3600e3))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, extensions),
  );
  const signature = crypto.sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const cert = seq(tbs, ECDSA_SHA256, bits(signature));
  const b64 = cert.toString('base64').match(/.{1,64}/g).join('\n');
  return {
    der: cert,
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
  };
}

module.exports = { generate };
