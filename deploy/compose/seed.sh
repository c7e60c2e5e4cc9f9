#!/bin/sh
# Seeds the try-out mailbox with bouncewatch's own fixtures (testdata/mail):
# every .eml file is APPENDed to INBOX over IMAP with STARTTLS, as a mail
# client would. Runs once; does nothing if INBOX already holds mail, so
# `docker compose up` can be repeated without duplicates.
#
# Environment: IMAP_URL (imap://dovecot:143/INBOX), IMAP_USER, IMAP_PASSWORD,
# CA_FILE (/tls/ca.pem), MAIL_DIR (/mail).
set -eu
: "${IMAP_URL:=imap://dovecot:143/INBOX}"
: "${CA_FILE:=/tls/ca.pem}"
: "${MAIL_DIR:=/mail}"
auth="$IMAP_USER:$IMAP_PASSWORD"

status=$(curl --silent --show-error --ssl-reqd --cacert "$CA_FILE" --user "$auth" \
	--url "${IMAP_URL%/INBOX}" --request 'STATUS INBOX (MESSAGES)')
count=$(printf '%s\n' "$status" | sed -n 's/.*MESSAGES \([0-9][0-9]*\).*/\1/p')
if [ "${count:-0}" -gt 0 ]; then
	echo "seed: INBOX already holds $count messages; nothing to do"
	exit 0
fi

n=0
for f in "$MAIL_DIR"/*.eml; do
	curl --silent --show-error --ssl-reqd --cacert "$CA_FILE" --user "$auth" \
		--upload-file "$f" --url "$IMAP_URL"
	n=$((n + 1))
done
echo "seed: appended $n messages to INBOX"
