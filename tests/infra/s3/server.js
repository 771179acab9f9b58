// Starts the patched @20minutes/s3rver on 127.0.0.1 and prints "port=<port>" on stdout once it listens. Stops on
// SIGTERM / SIGINT. Usage: node server.js <data directory> [port] [keep]
//   port  0 (the default) = a free port chosen by the OS; a fixed port lets a test restart the server where it was
//   keep  keep the data directory when the server stops (default: emptied), so a restarted server has the same buckets
'use strict'
const S3rver = require('@20minutes/s3rver')

const directory = process.argv[2]
if (!directory) {
  console.error('usage: node server.js <data directory> [port] [keep]')
  process.exit(2)
}

const port = Number(process.argv[3] || 0)
const keep = process.argv[4] === 'keep'
const server = new S3rver({ address: '127.0.0.1', port, directory, resetOnClose: !keep, silent: true })
server.run().then(
  (address) => console.log(`port=${address.port}`),
  (err) => {
    console.error(`s3rver failed to start: ${err.stack || err}`)
    process.exit(1)
  }
)

const stop = () => server.close().then(() => process.exit(0), () => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
