// A js-libp2p peer for p2psec's interop test (tests/interop_js.rs).
//
//   node peer.mjs listen --security noise|tls [--json]
//       Listens on /ip4/127.0.0.1/tcp/0, prints its multiaddr (ending in
//       /p2p/<PeerId>) as the first stdout line, then serves /ipfs/ping/1.0.0
//       and /echo/1.0.0 over yamux until killed. Connection events go to stderr
//       (as JSON lines with --json).
//
//   node peer.mjs dial <multiaddr> --security noise|tls [--ping N] [--echo BYTES] [--timeout SECS]
//       Dials, checks the remote PeerId, runs N pings (default 1), then echoes
//       BYTES random bytes over /echo/1.0.0 if --echo is given. Prints one JSON
//       object per line on stdout; exits 0 only if everything succeeded.
//
//   node peer.mjs dial <multiaddr> --security noise|tls --yamux-ping [--ping N] [--timeout SECS]
//       As dial, but the N pings (default 1) are yamux-level PING frames on the
//       connection's muxer (type 2, stream 0, answered by the remote's yamux
//       itself) instead of /ipfs/ping/1.0.0. No stream is opened (--echo is
//       refused) and the muxer sends no keep-alive pings of its own, so the
//       remote sees exactly N pings. The `connected` line also carries
//       `local_peer_id`; each ping prints {"event":"yamux_ping","seq":..,
//       "rtt_ms":..}. For remotes that serve no protocol at all (the C example
//       in ffi/examples, tests/ffi_ping.rs).
//
//   --psk FILE (listen or dial): a private network (@libp2p/pnet) with that key file
//       (tests/pnet_interop.rs).
//
//   --rsa-bits N (listen or dial): the node's identity is an N-bit RSA key (for the
//       legacy RSA-1024 tests, tests/legacy_rsa.rs) instead of a fresh Ed25519 one.
//
// Only the one security protocol given is configured, and yamux is the only muxer.

// js-libp2p 3.x calls Promise.withResolvers (Node >= 22); Node 20 lacks it. The
// polyfill has to be in place before those modules are loaded, hence the
// dynamic imports below.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const { randomBytes } = await import('node:crypto')
const { performance } = await import('node:perf_hooks')
const { createLibp2p } = await import('libp2p')
const { tcp } = await import('@libp2p/tcp')
const { noise } = await import('@libp2p/noise')
const { tls } = await import('@libp2p/tls')
const { yamux } = await import('@libp2p/yamux')
const { ping } = await import('@libp2p/ping')
const { peerIdFromString } = await import('@libp2p/peer-id')
const { multiaddr } = await import('@multiformats/multiaddr')
const { generateKeyPair } = await import('@libp2p/crypto/keys')
const { preSharedKey } = await import('@libp2p/pnet')
const { readFileSync } = await import('node:fs')

const ECHO_PROTOCOL = '/echo/1.0.0'
const ECHO_CHUNK = 64 * 1024

function usage (msg) {
  if (msg != null) process.stderr.write(`peer.mjs: ${msg}\n`)
  process.stderr.write(
    'usage: node peer.mjs listen --security noise|tls [--json]\n' +
    '       node peer.mjs dial <multiaddr> --security noise|tls [--ping N] [--echo BYTES] [--timeout SECS]\n' +
    '       node peer.mjs dial <multiaddr> --security noise|tls --yamux-ping [--ping N] [--timeout SECS]\n'
  )
  process.exit(2)
}

function parseArgs (argv) {
  const [command, ...rest] = argv
  if (command !== 'listen' && command !== 'dial') usage(`unknown command ${command ?? '(none)'}`)
  const opts = { command, security: null, json: false, ping: 1, echo: null, timeout: 60, addr: null, yamuxPing: false, rsaBits: null, psk: null }
  const intArg = (name, value) => {
    if (value == null || !/^\d+$/.test(value)) usage(`${name} needs a non-negative integer`)
    return Number.parseInt(value, 10)
  }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    switch (arg) {
      case '--security': opts.security = rest[++i]; break
      case '--json': opts.json = true; break
      case '--ping': opts.ping = intArg(arg, rest[++i]); break
      case '--echo': opts.echo = intArg(arg, rest[++i]); break
      case '--timeout': opts.timeout = intArg(arg, rest[++i]); break
      case '--yamux-ping': opts.yamuxPing = true; break
      case '--rsa-bits': opts.rsaBits = intArg(arg, rest[++i]); break
      case '--psk': opts.psk = rest[++i]; if (opts.psk == null) usage('--psk needs a key file'); break
      default:
        if (command === 'dial' && opts.addr == null && !arg.startsWith('--')) {
          opts.addr = arg
        } else {
          usage(`unexpected argument ${arg}`)
        }
    }
  }
  if (opts.security !== 'noise' && opts.security !== 'tls') usage('--security must be noise or tls')
  if (command === 'dial' && opts.addr == null) usage('dial needs a multiaddr')
  if (opts.yamuxPing && command !== 'dial') usage('--yamux-ping is a dial option')
  if (opts.yamuxPing && opts.echo != null) usage('--yamux-ping and --echo exclude each other')
  return opts
}

function encrypter (security) {
  return security === 'noise' ? noise() : tls()
}

async function createNode (opts, listen) {
  // --rsa-bits: an RSA identity of that size (js-libp2p accepts any size up to 8192,
  // so a legacy 1024-bit node can be made), instead of a fresh Ed25519 one
  const privateKey = opts.rsaBits == null ? undefined : await generateKeyPair('RSA', opts.rsaBits)
  // --psk: a private network (@libp2p/pnet) with the key file's bytes
  const connectionProtector = opts.psk == null ? undefined : preSharedKey({ psk: readFileSync(opts.psk) })
  return createLibp2p({
    privateKey,
    connectionProtector,
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [encrypter(opts.security)],
    // --yamux-ping: no keep-alive pings of the muxer's own, so that every ping
    // counted is one of ours.
    streamMuxers: [opts.yamuxPing ? yamux({ enableKeepAlive: false }) : yamux()],
    services: { ping: ping() }
  })
}

// /echo/1.0.0: write back every byte received until the remote half-closes,
// then close our writable end.
async function handleEcho (stream) {
  let bytes = 0
  try {
    for await (const chunk of stream) {
      bytes += chunk.byteLength
      if (!stream.send(chunk)) {
        await stream.onDrain()
      }
    }
    await stream.close()
  } catch (err) {
    stream.abort(err)
    throw err
  }
  return bytes
}

function logEvent (opts, obj) {
  process.stderr.write(opts.json ? `${JSON.stringify(obj)}\n` : `peer.mjs: ${Object.entries(obj).map(([k, v]) => `${k}=${v}`).join(' ')}\n`)
}

async function runListen (opts) {
  const node = await createNode(opts, true)
  await node.handle(ECHO_PROTOCOL, (stream, connection) => {
    handleEcho(stream).then(
      (bytes) => logEvent(opts, { event: 'echo', remote_peer_id: connection.remotePeer.toString(), bytes }),
      (err) => logEvent(opts, { event: 'echo_error', remote_peer_id: connection.remotePeer.toString(), error: String(err) })
    )
  })
  node.addEventListener('connection:open', (evt) => {
    const c = evt.detail
    logEvent(opts, {
      event: 'connection_open',
      remote_peer_id: c.remotePeer.toString(),
      remote_addr: c.remoteAddr.toString(),
      security: c.encryption,
      muxer: c.multiplexer
    })
  })
  node.addEventListener('connection:close', (evt) => {
    logEvent(opts, { event: 'connection_close', remote_peer_id: evt.detail.remotePeer.toString() })
  })

  const addrs = node.getMultiaddrs().map((ma) => ma.toString())
  const addr = addrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.includes('/p2p/'))
  if (addr == null) throw new Error(`no loopback listen address among ${addrs.join(', ')}`)
  process.stdout.write(`${addr}\n`)

  const shutdown = () => {
    node.stop().finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

function expectedPeerId (addr) {
  const ma = multiaddr(addr)
  const p2p = ma.getComponents().findLast((c) => c.name === 'p2p')
  if (p2p?.value == null) throw new Error(`multiaddr ${addr} has no /p2p/<PeerId>`)
  return { ma, peerId: peerIdFromString(p2p.value) }
}

async function runEcho (connection, size) {
  const data = randomBytes(size)
  const stream = await connection.newStream(ECHO_PROTOCOL)
  const start = performance.now()
  const chunks = []
  let received = 0
  const reading = (async () => {
    for await (const chunk of stream) {
      const bytes = chunk.subarray()
      chunks.push(bytes)
      received += bytes.byteLength
      if (received > size) throw new Error(`echo overread: ${received} > ${size} bytes`)
    }
  })()
  // Catch early so a read failure during writing is not an unhandled rejection.
  reading.catch(() => {})
  for (let off = 0; off < size; off += ECHO_CHUNK) {
    if (!stream.send(data.subarray(off, Math.min(off + ECHO_CHUNK, size)))) {
      await stream.onDrain()
    }
  }
  await stream.close() // half-close: the remote sees EOF and closes its end
  await reading
  const ms = performance.now() - start
  const echoed = Buffer.concat(chunks, received)
  if (received !== size) throw new Error(`echo underread: ${received} of ${size} bytes`)
  if (!echoed.equals(data)) throw new Error('echoed bytes differ from the bytes sent')
  return ms
}

// --yamux-ping: `count` yamux PING frames through the connection's muxer
// (@libp2p/yamux's YamuxMuxer.ping(): a SYN ping on stream 0, resolved by the
// remote's ACK with the same opaque value; its rtt is in whole milliseconds).
// js-libp2p 3 keeps the muxer on the connection object (`connection.muxer`).
// The muxer's keep-alive is off in this mode (see createNode), so each call
// sends one fresh PING: a call returns only once its ping is answered and
// cleared, so none shares an earlier one.
async function runYamuxPings (node, connection, handshakeMs, count, out) {
  const muxer = connection.muxer
  if (typeof muxer?.ping !== 'function') {
    throw new Error(`the connection's muxer (${connection.multiplexer}) has no ping()`)
  }
  out({
    event: 'connected',
    remote_peer_id: connection.remotePeer.toString(),
    local_peer_id: node.peerId.toString(),
    security: connection.encryption,
    muxer: connection.multiplexer,
    handshake_ms: handshakeMs
  })
  for (let seq = 1; seq <= count; seq++) {
    const t = performance.now()
    const rtt = await muxer.ping()
    out({ event: 'yamux_ping', seq, rtt_ms: rtt, elapsed_ms: performance.now() - t })
  }
}

async function runDial (opts) {
  const { ma, peerId } = expectedPeerId(opts.addr)
  const node = await createNode(opts, false)
  try {
    const t0 = performance.now()
    const connection = await node.dial(ma)
    const handshakeMs = performance.now() - t0
    if (!connection.remotePeer.equals(peerId)) {
      throw new Error(`remote PeerId ${connection.remotePeer} differs from the dialed ${peerId}`)
    }
    const out = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)
    if (opts.yamuxPing) {
      await runYamuxPings(node, connection, handshakeMs, opts.ping, out)
      await connection.close()
      return
    }
    out({
      event: 'connected',
      remote_peer_id: connection.remotePeer.toString(),
      security: connection.encryption,
      muxer: connection.multiplexer,
      handshake_ms: handshakeMs
    })
    for (let seq = 1; seq <= opts.ping; seq++) {
      const t = performance.now()
      const rtt = await node.services.ping.ping(connection.remotePeer)
      out({ event: 'ping', seq, rtt_ms: rtt, elapsed_ms: performance.now() - t })
    }
    if (opts.echo != null) {
      const ms = await runEcho(connection, opts.echo)
      out({ event: 'echo', bytes: opts.echo, ok: true, ms })
    }
    await connection.close()
  } finally {
    await node.stop()
  }
}

const opts = parseArgs(process.argv.slice(2))
if (opts.command === 'listen') {
  try {
    await runListen(opts)
  } catch (err) {
    process.stderr.write(`peer.mjs listen: ${err?.stack ?? err}\n`)
    process.exit(1)
  }
} else {
  const timer = setTimeout(() => {
    process.stderr.write(`peer.mjs dial: timed out after ${opts.timeout} s\n`)
    process.exit(1)
  }, opts.timeout * 1000)
  try {
    await runDial(opts)
    clearTimeout(timer)
    process.exit(0)
  } catch (err) {
    process.stderr.write(`peer.mjs dial: ${err?.stack ?? err}\n`)
    process.exit(1)
  }
}
