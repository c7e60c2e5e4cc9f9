#!/bin/sh
# Regenerates the TEST-ONLY certificates of the docker compose try-out.
#
#   ca.pem          a throwaway CA; bouncewatch trusts it (BOUNCEWATCH_IMAP_CA_FILE,
#                   BOUNCEWATCH_SMTP_CA_FILE)
#   server.pem      certificate for the hosts "dovecot" and "mailpit" (the compose
#                   service names), plus localhost / 127.0.0.1 for trying from the host
#   server-key.pem  its private key, PUBLISHED IN THIS REPOSITORY: never use it
#                   anywhere but the local try-out
#
# The CA's private key is thrown away, so nothing else can be signed with it.
# Run from anywhere: sh deploy/compose/tls/gen.sh
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca-key.pem"
openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days 3650 \
	-subj "/O=bouncewatch compose try-out (TEST ONLY)/CN=bouncewatch test CA" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.pem

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/key.pem"
openssl pkcs8 -topk8 -nocrypt -in "$tmp/key.pem" -out server-key.pem
openssl req -new -key server-key.pem -subj "/O=bouncewatch compose try-out (TEST ONLY)/CN=dovecot" -out "$tmp/server.csr"
cat >"$tmp/ext.cnf" <<'EXT'
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:dovecot,DNS:mailpit,DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey "$tmp/ca-key.pem" -CAcreateserial \
	-CAserial "$tmp/ca.srl" -sha256 -days 3650 -extfile "$tmp/ext.cnf" -out server.pem

# Readable by the unprivileged users in the containers (test key, see above).
chmod 644 ca.pem server.pem server-key.pem
openssl verify -CAfile ca.pem server.pem
