'use strict'
// A legacy js-libp2p 0.29 peer for p2psec's SECIO interop test. SECIO
// (/secio/1.0.0) is its only security protocol and mplex (/mplex/6.7.0) its
// only muxer.
//
//   node peer.js listen [--key-type ed25519|secp256k1|rsa]
//       Listens on /ip4/127.0.0.1/tcp/0 and prints its full multiaddr (ending in
//       /p2p/<PeerId>) as the first stdout line, then answers /ipfs/ping/1.0.0
//       and serves /echo/1.0.0 until killed. Logs go to stderr only.
//
//   node peer.js dial <multiaddr> [--pings N] [--echo BYTES] [--key-type ...]
//       Dials the multiaddr (which must end in /p2p/<PeerId>), runs N pings
//       (default 3) printing `ping <rtt ms>` per ping, then, if BYTES > 0,
//       echoes BYTES deterministic pseudo-random bytes over /echo/1.0.0 and
//       prints `echo <BYTES> ok`. Exits 0 only if everything succeeded; gives
//       up after 30 s.
//
// The key type defaults to ed25519.

const crypto = require('crypto')
const { performance } = require('perf_hooks')
const Libp2p = require('libp2p')
const TCP = require('libp2p-tcp')
const MPLEX = require('libp2p-mplex')
const SECIO = require('libp2p-secio')
const PeerId = require('peer-id')
const libp2pCrypto = require('libp2p-crypto')
const multiaddr = require('multiaddr')
const pipe = require('it-pipe')

const ECHO_PROTOCOL = '/echo/1.0.0'
const ECHO_CHUNK = 64 * 1024
const DIAL_TIMEOUT_MS = 30 * 1000

function usage (msg) {
  if (msg != null) process.stderr.write(`peer.js: ${msg}\n`)
  process.stderr.write(
    'usage: node peer.js listen [--key-type ed25519|secp256k1|rsa]\n' +
    '       node peer.js dial <multiaddr> [--pings N] [--echo BYTES] [--key-type ed25519|secp256k1|rsa]\n'
  )
  process.exit(2)
}

function parseArgs (argv) {
  const [command, ...rest] = argv
  if (command !== 'listen' && command !== 'dial') usage(`unknown command ${command == null ? '(none)' : command}`)
  const opts = { command, keyType: 'ed25519', pings: 3, echo: 0, addr: null }
  const intArg = (name, value) => {
    if (value == null || !/^\d+$/.test(value)) usage(`${name} needs a non-negative integer`)
    return Number.parseInt(value, 10)
  }
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    if (arg === '--key-type') {
      opts.keyType = rest[++i]
    } else if (command === 'dial' && arg === '--pings') {
      opts.pings = intArg(arg, rest[++i])
    } else if (command === 'dial' && arg === '--echo') {
      opts.echo = intArg(arg, rest[++i])
    } else if (command === 'dial' && opts.addr == null && !arg.startsWith('--')) {
      opts.addr = arg
    } else {
      usage(`unexpected argument ${arg}`)
    }
  }
  if (!['ed25519', 'secp256k1', 'rsa'].includes(opts.keyType)) usage('--key-type must be ed25519, secp256k1 or rsa')
  if (command === 'dial' && opts.addr == null) usage('dial needs a multiaddr')
  return opts
}

async function createPeerId (keyType) {
  if (keyType === 'rsa') {
    // libp2p-crypto 0.18 generates RSA keys with the optional native
    // ursa-optional module or else in pure JS (slow); Node's own generator is
    // fast and needs no native build.
    const { privateKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs1', format: 'der' },
      publicKeyEncoding: { type: 'pkcs1', format: 'der' }
    })
    const key = await libp2pCrypto.keys.supportedKeys.rsa.unmarshalRsaPrivateKey(new Uint8Array(privateKey))
    return PeerId.createFromPrivKey(libp2pCrypto.keys.marshalPrivateKey(key, 'rsa'))
  }
  return PeerId.create({ keyType })
}

async function createNode (peerId, listen) {
  return Libp2p.create({
    peerId,
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    modules: {
      transport: [TCP],
      streamMuxer: [MPLEX],
      connEncryption: [SECIO]
    },
    dialer: { dialTimeout: DIAL_TIMEOUT_MS - 5000 },
    // Nothing that dials out or talks on its own: no peer discovery autodial,
    // no connection-manager autodial, no DHT, no circuit relay, no pubsub.
    connectionManager: { autoDial: false, minConnections: 0 },
    config: {
      peerDiscovery: { autoDial: false },
      dht: { enabled: false },
      relay: { enabled: false },
      pubsub: { enabled: false }
    }
  })
}

function log (msg) {
  process.stderr.write(`peer.js: ${msg}\n`)
}

// libp2p 0.29 reports failed dials as an AggregateError whose message alone
// says little; include the underlying errors.
function describe (err) {
  let text = (err && err.stack) || String(err)
  if (err && Array.isArray(err.errors)) {
    for (const e of err.errors) text += `\n  caused by: ${(e && e.stack) || e}`
  }
  return text
}

async function runListen (opts) {
  const peerId = await createPeerId(opts.keyType)
  const node = await createNode(peerId, true)
  // The echo handler: send back every byte until the remote closes its write
  // side; the end of the source then closes ours.
  node.handle(ECHO_PROTOCOL, ({ connection, stream }) => {
    let bytes = 0
    pipe(
      stream,
      async function * (source) {
        for await (const chunk of source) {
          bytes += chunk.length
          yield chunk
        }
      },
      stream
    ).then(
      () => log(`echo: ${bytes} bytes from ${connection.remotePeer.toB58String()}`),
      (err) => log(`echo error from ${connection.remotePeer.toB58String()}: ${describe(err)}`)
    )
  })
  node.connectionManager.on('peer:connect', (connection) => {
    log(`connection open: peer=${connection.remotePeer.toB58String()} addr=${connection.remoteAddr} ` +
      `security=${connection.stat.encryption} muxer=${connection.stat.multiplexer}`)
  })
  node.connectionManager.on('peer:disconnect', (connection) => {
    log(`connection closed: peer=${connection.remotePeer.toB58String()}`)
  })
  await node.start()

  const addr = node.multiaddrs
    .map((ma) => ma.toString())
    .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))
  if (addr == null) throw new Error(`no loopback listen address among ${node.multiaddrs.join(', ')}`)
  process.stdout.write(`${addr}/p2p/${peerId.toB58String()}\n`)

  const shutdown = () => {
    node.stop().finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

// Deterministic pseudo-random bytes (xorshift32 from a fixed seed), so a
// failing run can be reproduced byte for byte.
function testBytes (size) {
  const out = Buffer.alloc(size)
  let x = 0x9e3779b9
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

async function runEcho (node, remotePeer, size) {
  const data = testBytes(size)
  const { stream } = await node.dialProtocol(remotePeer, ECHO_PROTOCOL)
  const chunks = []
  let received = 0
  await pipe(
    (function * () {
      for (let off = 0; off < size; off += ECHO_CHUNK) yield data.subarray(off, Math.min(off + ECHO_CHUNK, size))
    })(),
    // The sink ends (half-closing the stream) when the chunks run out; the
    // reader below keeps going until the remote closes its side.
    stream,
    async (source) => {
      for await (const chunk of source) {
        const bytes = chunk.slice() // mplex yields BufferLists
        chunks.push(bytes)
        received += bytes.length
        if (received > size) throw new Error(`echo overread: ${received} > ${size} bytes`)
      }
    }
  )
  if (received !== size) throw new Error(`echo underread: ${received} of ${size} bytes`)
  if (!Buffer.concat(chunks, received).equals(data)) throw new Error('echoed bytes differ from the bytes sent')
}

async function runDial (opts) {
  let ma
  let expected
  try {
    ma = multiaddr(opts.addr)
    expected = PeerId.createFromB58String(ma.getPeerId())
  } catch (err) {
    throw new Error(`${opts.addr} is not a multiaddr ending in /p2p/<PeerId>: ${err.message}`)
  }

  const node = await createNode(await createPeerId(opts.keyType), false)
  await node.start()
  try {
    // Dialing a multiaddr with /p2p/ makes SECIO reject a remote whose key
    // gives another PeerId; the check below is a second line of defence.
    const connection = await node.dial(ma)
    if (!connection.remotePeer.equals(expected)) {
      throw new Error(`remote PeerId ${connection.remotePeer.toB58String()} differs from the dialed ${expected.toB58String()}`)
    }
    log(`connected: peer=${connection.remotePeer.toB58String()} security=${connection.stat.encryption} muxer=${connection.stat.multiplexer}`)
    for (let i = 0; i < opts.pings; i++) {
      // libp2p's own ping result is whole milliseconds (0 on loopback); time
      // the call here instead. This includes opening the ping stream.
      const t = performance.now()
      await node.ping(expected)
      process.stdout.write(`ping ${(performance.now() - t).toFixed(3)}\n`)
    }
    if (opts.echo > 0) {
      await runEcho(node, expected, opts.echo)
      process.stdout.write(`echo ${opts.echo} ok\n`)
    }
  } finally {
    await node.stop()
  }
}

async function main () {
  const opts = parseArgs(process.argv.slice(2))
  if (opts.command === 'listen') {
    try {
      await runListen(opts)
    } catch (err) {
      log(`listen: ${describe(err)}`)
      process.exit(1)
    }
    return
  }
  const timer = setTimeout(() => {
    log(`dial: timed out after ${DIAL_TIMEOUT_MS / 1000} s`)
    process.exit(1)
  }, DIAL_TIMEOUT_MS)
  try {
    await runDial(opts)
  } catch (err) {
    log(`dial: ${describe(err)}`)
    process.exit(1)
  }
  clearTimeout(timer)
  process.exit(0)
}

main()
