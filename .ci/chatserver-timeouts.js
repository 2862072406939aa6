// Preloaded into the test chat server through NODE_OPTIONS by .ci/run (start.sh passes the environment on).
// The server calls mongoose.connect before it loads its hundreds of modules synchronously; on a busy 2-core
// machine that load can take longer than the driver's connect timeout, whose timer then fires the moment the
// event loop is free, and the server exits with "connection timed out" although the database answers in
// milliseconds. A longer connect timeout is all this changes; nothing on the auth path.
const path = require('path');
let mongoose;
try { mongoose = require(require.resolve('mongoose', { paths: [process.cwd()] })); } catch (e) { return; }
const connect = mongoose.connect;
mongoose.connect = function (uri, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  opts = Object.assign({}, opts, { connectTimeoutMS: 180000, serverSelectionTimeoutMS: 180000 });
  return connect.call(this, uri, opts, cb);
};
// app.js also opens a second connection with createConnection (the same
// timeout fires there under load: "MongooseServerSelectionError: connection
// timed out"), so it gets the same longer timeouts.
const createConnection = mongoose.createConnection;
mongoose.createConnection = function (uri, opts, ...rest) {
  if (typeof uri === 'string' && (opts === undefined || (typeof opts === 'object' && opts !== null))) {
    opts = Object.assign({}, opts, { connectTimeoutMS: 180000, serverSelectionTimeoutMS: 180000 });
  }
  return createConnection.call(this, uri, opts, ...rest);
};
