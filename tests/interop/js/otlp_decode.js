// Decodes an OTLP/HTTP protobuf body (ExportTraceServiceRequest) with the OpenTelemetry JS
// project's generated protobuf types (npm @opentelemetry/otlp-transformer, which we did not
// write) and prints it as JSON: ids as lower-case hex, 64-bit integers as strings, enums by name.
// Used by tests/otlp/otlp_test.cc to check every field ferry's exporter sends.
//
//   node otlp_decode.js BODY_FILE
'use strict';
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const Request = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const message = Request.decode(fs.readFileSync(process.argv[2]));
const object = Request.toObject(message, { longs: String, enums: String, bytes: Array, defaults: false });
const hex = (v) => Buffer.from(v).toString('hex');
for (const rs of object.resourceSpans || []) {
  for (const ss of rs.scopeSpans || []) {
    for (const s of ss.spans || []) {
      for (const k of ['traceId', 'spanId', 'parentSpanId']) if (s[k] !== undefined) s[k] = hex(s[k]);
    }
  }
}
process.stdout.write(JSON.stringify(object) + '\n');
