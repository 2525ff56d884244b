#!/usr/bin/env bash
# Regenerates test/fixtures/tls/identities.ts: a test CA, certificates it
# signed (a server for localhost/127.0.0.1, a second name for SNI, a client,
# an expired server certificate) and an unrelated CA, all EC P-256 (fast to
# use), valid 2000-2100 unless said otherwise. They protect nothing; they are
# committed so the suite needs no openssl at run time and every run uses the
# same bytes. `openssl ca` is used because `openssl x509 -req` (3.0) cannot
# date a certificate in the past.
set -euo pipefail
out="$(cd "$(dirname "$0")/.." && pwd)/test/fixtures/tls/identities.ts"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
setup_ca() { # name
  mkdir -p "$1/new"; : > "$1/index.txt"; echo 1000 > "$1/serial"
  cat > "$1.cnf" <<CNF
[ca]
default_ca = ca
[ca]
dir = $dir/$1
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
[client]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
CNF
}
ca_selfsigned() { # name cn
  setup_ca "$1"; key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  openssl ca -batch -config "$1.cnf" -selfsign -keyfile "$1.key" -in "$1.csr" -out "$1.pem" -extensions v3_ca \
    -startdate 20000101000000Z -enddate 21000101000000Z -notext 2>/dev/null
}
issue() { # ca name cn san ext start end
  key "$2.key"
  openssl req -new -key "$2.key" -subj "/CN=$3" ${4:+-addext "subjectAltName=$4"} -out "$2.csr"
  openssl ca -batch -config "$1.cnf" -cert "$1.pem" -keyfile "$1.key" -in "$2.csr" -out "$2.pem" -extensions "$5" \
    -startdate "$6" -enddate "$7" -notext 2>/dev/null
}
ca_selfsigned ca "rxnet test CA"
ca_selfsigned other "rxnet unrelated CA"
issue ca server localhost "DNS:localhost,IP:127.0.0.1" server 20000101000000Z 21000101000000Z
issue ca sni other.test "DNS:other.test,DNS:*.wild.test" server 20000101000000Z 21000101000000Z
issue ca client "rxnet test client" "" client 20000101000000Z 21000101000000Z
issue ca expired localhost "DNS:localhost,IP:127.0.0.1" server 20000101000000Z 20010101000000Z
issue other stranger localhost "DNS:localhost,IP:127.0.0.1" server 20000101000000Z 21000101000000Z

pkcs8() { openssl pkey -in "$1"; }
{
  echo '/**'
  echo ' * TLS identities for tests only, made by scripts/make-tls-fixtures.sh (EC'
  echo ' * P-256; valid 2000-2100 unless said otherwise). They protect nothing.'
  echo ' */'
  echo ''
  emit() { # const file
    printf 'export const %s = `%s\n`;\n\n' "$1" "$(cat "$2")"
  }
  echo '/** The test CA that signed every certificate below but STRANGER. */'
  emit CA_CERT ca.pem
  echo '/** An unrelated CA: trusting only it, nothing below verifies. */'
  emit OTHER_CA_CERT other.pem
  echo '/** The server: CN and subjectAltName localhost, 127.0.0.1. */'
  emit SERVER_CERT server.pem
  emit SERVER_KEY "$(pkcs8 server.key > server.k8; echo server.k8)"
  echo '/** A second server name for SNI: other.test and *.wild.test. */'
  emit SNI_CERT sni.pem
  emit SNI_KEY "$(pkcs8 sni.key > sni.k8; echo sni.k8)"
  echo '/** A client certificate (clientAuth). */'
  emit CLIENT_CERT client.pem
  emit CLIENT_KEY "$(pkcs8 client.key > client.k8; echo client.k8)"
  echo '/** localhost again, but valid only 2000-2001: expired. */'
  emit EXPIRED_CERT expired.pem
  emit EXPIRED_KEY "$(pkcs8 expired.key > expired.k8; echo expired.k8)"
  echo '/** localhost signed by OTHER_CA_CERT: a server the test CA does not vouch for. */'
  emit STRANGER_CERT stranger.pem
  emit STRANGER_KEY "$(pkcs8 stranger.key > stranger.k8; echo stranger.k8)"
} > "$out"
echo "wrote $out"
