// Starts the patched @20minutes/s3rver on 127.0.0.1 (port 0 = a free port chosen by the OS) and prints
// "port=<port>" on stdout once it listens. Stops on SIGTERM / SIGINT. Usage: node server.js <data directory>
'use strict'
const S3rver = require('@20minutes/s3rver')

const directory = process.argv[2]
if (!directory) {
  console.error('usage: node server.js <data directory>')
  process.exit(2)
}

const server = new S3rver({ address: '127.0.0.1', port: 0, directory, resetOnClose: true, silent: true })
server.run().then(
  ({ port }) => console.log(`port=${port}`),
  (err) => {
    console.error(`s3rver failed to start: ${err.stack || err}`)
    process.exit(1)
  }
)

const stop = () => server.close().then(() => process.exit(0), () => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
