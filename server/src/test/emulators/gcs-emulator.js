// Starts the Cloud Storage emulator of firebase-tools (its GCS JSON API) on a free loopback port, without the
// Firebase CLI: no hub, no UI, no rules runtime (a Java download the GCS API does not use: its requests are
// admin requests), no network. Prints "LISTENING <port>" once it serves.
// Usage: node gcs-emulator.js <folder holding node_modules/firebase-tools>
// Blobs go under $TMPDIR/firebase/storage.
const path = require('path');
const lib = path.join(process.argv[2], 'node_modules', 'firebase-tools', 'lib', 'emulator');
const { StorageEmulator } = require(path.join(lib, 'storage', 'index.js'));
const { createApp } = require(path.join(lib, 'storage', 'server.js'));
const { EmulatorRegistry } = require(path.join(lib, 'registry.js'));
const multipart = require(path.join(lib, 'storage', 'multipart.js'));

// The emulator's multipart/related parser wants "Content-Type" as each part's only header; Google's Java SDK
// (like GCS itself) also sends other part headers. Parse the standard form: headers, blank line, body.
multipart.parseObjectUploadMultipartRequest = (contentTypeHeader, body) => {
  const m = /^multipart\/related;.*boundary="?([^";]+)"?/i.exec(contentTypeHeader || '');
  if (!m) {
    throw new Error(`Bad content type. ${contentTypeHeader}`);
  }
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.slice(start, start + 2).toString() === '--') {
      break;
    }
    const next = body.indexOf(delimiter, start);
    if (next < 0) {
      throw new Error('Unterminated multipart body');
    }
    const part = body.slice(start, next);
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) {
      throw new Error('Failed to parse multipart part: Missing header-body separator.');
    }
    let data = part.slice(split + 4);
    if (data.slice(-2).toString() === '\r\n') {
      data = data.slice(0, data.length - 2);
    }
    parts.push(Buffer.from(data));
    at = next;
  }
  if (parts.length !== 2) {
    throw new Error('Unexpected number of parts in request body');
  }
  return { metadataRaw: parts[0].toString(), dataRaw: parts[1] };
};

(async () => {
  const emu = new StorageEmulator({ projectId: 'demo-faketikv', host: '127.0.0.1', port: 0, rules: 'storage.rules', auto_download: false });
  const app = await createApp('demo-faketikv', emu);
  const server = app.listen(0, '127.0.0.1', () => {
    // object metadata names the emulator's own address: register it under the port it got
    emu.args.port = server.address().port;
    EmulatorRegistry.set(emu.getName(), emu);
    console.log('LISTENING ' + server.address().port);
  });
})().catch((e) => {
  console.error('FAILED', e);
  process.exit(1);
});
