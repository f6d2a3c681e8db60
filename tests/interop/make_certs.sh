#!/usr/bin/env bash
# Generates the TLS material the interop tests use, into DIR (default: ./certs):
#   ca.pem/ca-key.pem       a throw-away certificate authority
#   server.pem/server-key.pem  for localhost and 127.0.0.1, signed by the CA
#   client.pem/client-key.pem  a client certificate signed by the CA (for --tlsverify)
#   other-ca.pem, rogue.pem/rogue-key.pem  a client certificate from an unknown CA (must be refused)
# Idempotent: does nothing when the files exist. Needs openssl.
set -euo pipefail
dir=${1:-$(dirname "$0")/certs}
mkdir -p "$dir"
cd "$dir"
[ -f rogue.pem ] && exit 0
days=3650
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days $days \
  -subj "/CN=ferry test CA" >/dev/null 2>&1
cat > server.ext <<'EXT'
subjectAltName = DNS:localhost, IP:127.0.0.1
extendedKeyUsage = serverAuth
EXT
openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj "/CN=localhost" >/dev/null 2>&1
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server.pem -days $days \
  -extfile server.ext >/dev/null 2>&1
cat > client.ext <<'EXT'
extendedKeyUsage = clientAuth
EXT
openssl req -newkey rsa:2048 -nodes -keyout client-key.pem -out client.csr -subj "/CN=ferry test client" >/dev/null 2>&1
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out client.pem -days $days \
  -extfile client.ext >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca-key.pem -out other-ca.pem -days $days \
  -subj "/CN=unknown CA" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -keyout rogue-key.pem -out rogue.csr -subj "/CN=rogue client" >/dev/null 2>&1
openssl x509 -req -in rogue.csr -CA other-ca.pem -CAkey other-ca-key.pem -CAcreateserial -out rogue.pem \
  -days $days -extfile client.ext >/dev/null 2>&1
rm -f ./*.csr ./*.srl ./*.ext
