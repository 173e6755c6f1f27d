#!/usr/bin/env bash
# Makes a development CA and certificates for codedge's TLS and mutual TLS:
#
#   scripts/make-dev-certs.sh DIR [SERVER_NAME ...] [-- CLIENT_NAME ...]
#
# DIR/ca.pem, ca.key                 the CA (keep ca.key off the devices)
# DIR/server.pem, server.key         for edge-server --tls_cert/--tls_key; valid for
#                                    localhost, 127.0.0.1 and every SERVER_NAME (host
#                                    names or IP addresses the workers dial)
# DIR/NAME.pem, NAME.key             one client certificate per CLIENT_NAME (default:
#                                    worker0 client), for edge-worker and clients
#                                    under mutual TLS (--tls_cert/--tls_key)
# DIR/token                          a random shared token (--token_file)
#
# ECDSA P-256 keys, certificates valid 825 days. For development and closed
# clusters: a production deployment should use its own PKI.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
command -v openssl >/dev/null || { echo "make-dev-certs: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
dir=$1
shift
servers=()
clients=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do servers+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
while [ $# -gt 0 ]; do clients+=("$1"); shift; done
[ ${#clients[@]} -eq 0 ] && clients=(worker0 client)

mkdir -p "$dir"
umask 077
cd "$dir"

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 825 -subj "/CN=codedge development CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

# sign NAME SAN EXTENDED_KEY_USAGE
sign() {
  local name=$1 san=$2 eku=$3
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "/CN=$name" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$san" "$eku" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days 825 \
    -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

san="DNS:localhost,IP:127.0.0.1"
for s in "${servers[@]}"; do
  if [[ $s =~ ^[0-9.]+$ || $s == *:* ]]; then san="$san,IP:$s"; else san="$san,DNS:$s"; fi
done
sign server "$san" serverAuth
for c in "${clients[@]}"; do sign "$c" "DNS:$c" clientAuth; done
[ -f token ] || openssl rand -hex 32 > token
chmod 644 ./*.pem
echo "make-dev-certs: CA, server and ${clients[*]} certificates and a token in $dir"
