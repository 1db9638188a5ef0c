#!/bin/sh
# Regenerates the test certificates (a CA and a server certificate for localhost and
# 127.0.0.1, valid for 100 years). The committed files are what the tests use; nothing runs
# this during a build. Needs openssl.
set -eu
cd "$(dirname "$0")"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 36500 -subj "/CN=patchbay test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out server.key.sec1
openssl pkcs8 -topk8 -nocrypt -in server.key.sec1 -out server.key
rm server.key.sec1
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 36500 -sha256 \
  -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl ca.key
# mosquitto drops root privileges before reading the key: it must be world-readable (a
# test key, public in the repository anyway).
chmod 644 server.key
