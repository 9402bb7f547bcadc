#!/usr/bin/env bash
# A local certificate authority and a server certificate signed by it, for nginx's TLS.
#
#   deploy/make-certs.sh [OUT_DIR] [NAME ...]
#
# OUT_DIR defaults to deploy/certs (git ignores it); the names default to localhost and
# 127.0.0.1 (an IP address becomes an IP SAN, anything else a DNS SAN). It writes
#   ca.pem, ca-key.pem          the CA (kept and reused when it exists: trust it once)
#   server.pem, server-key.pem  the server certificate (397 days) and its key
# Give clients ca.pem to trust (curl --cacert, REQUESTS_CA_BUNDLE, the OS store).
# For a public host, use certificates from your CA or ACME instead: same two file names.
set -euo pipefail

OUT=${1:-$(dirname "$0")/certs}
shift || true
NAMES=("$@")
[ ${#NAMES[@]} -gt 0 ] || NAMES=(localhost 127.0.0.1)

mkdir -p "$OUT"
umask 077  # the keys are readable by their owner only
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ ! -s "$OUT/ca.pem" ] || [ ! -s "$OUT/ca-key.pem" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/ca-key.pem"
    openssl req -x509 -new -key "$OUT/ca-key.pem" -sha256 -days 3650 \
        -subj "/CN=authapi local CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "$OUT/ca.pem"
fi

san=""
for name in "${NAMES[@]}"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
        san+="${san:+,}IP:$name"
    else
        san+="${san:+,}DNS:$name"
    fi
done

cat >"$WORK/server.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/server-key.pem"
openssl req -new -key "$OUT/server-key.pem" -subj "/CN=${NAMES[0]}" -out "$WORK/server.csr"
openssl x509 -req -in "$WORK/server.csr" -CA "$OUT/ca.pem" -CAkey "$OUT/ca-key.pem" \
    -set_serial "0x$(openssl rand -hex 16)" -days 397 -sha256 \
    -extfile "$WORK/server.ext" -out "$OUT/server.pem" 2>/dev/null
chmod 644 "$OUT/ca.pem" "$OUT/server.pem"

openssl verify -CAfile "$OUT/ca.pem" "$OUT/server.pem" >/dev/null
echo "make-certs: $OUT/server.pem for ${NAMES[*]}, signed by $OUT/ca.pem"
