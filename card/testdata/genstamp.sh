#!/usr/bin/env bash
# genstamp.sh computes the test vectors of the entitlement file's MACs with
# openssl, independently of the Go code, and writes stamp.json next to
# itself (read by TestEntitlementVectors). The rules are card's package
# doc, "Entitlement file":
#
#   application key  3DES_MK(F) || 3DES_MK(NOT F), F = the ASN's rightmost 8 bytes
#   stamp MAC        retail MAC (ISO 9797-1 algorithm 3, padding method 2)
#                    under the application key over counter(2) app(1)
#                    scope(4) action(1) terminal(6) seq(4) date(4) time(3) uses(2)
#   write MAC        the same MAC over counter(2) slot(1) and the 29 bytes
#                    of STAMP's data before its MAC
#   grant MAC        the same MAC over format(1) key version(1) file
#                    version(4) count(1) and each slot's grant (17 bytes)
#
# Every block cipher operation is one openssl call; bash and xxd only move
# hex around. Usage: card/testdata/genstamp.sh (OpenSSL 3 with the legacy
# provider, for single DES). Rerunning it must leave git clean.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

tobin() { xxd -r -p; }
tohex() { xxd -p -c 4096 | tr -d '\n'; }
zeros() { local s="" i; for ((i = 0; i < $1; i++)); do s+=00; done; printf %s "$s"; }
hnot() {
	local h=$1 out="" i
	for ((i = 0; i < ${#h}; i += 2)); do out+=$(printf %02x $((0xff ^ 0x${h:i:2}))); done
	printf %s "$out"
}
hxor() {
	local a=$1 b=$2 out="" i
	for ((i = 0; i < ${#a}; i += 2)); do out+=$(printf %02x $((0x${a:i:2} ^ 0x${b:i:2}))); done
	printf %s "$out"
}
pad() {
	local h="${1}80"
	while (((${#h} / 2) % $2 != 0)); do h+=00; done
	printf %s "$h"
}
ede() { printf %s "$2" | tobin | openssl enc -des-ede -nopad -K "$1" | tohex; }
retailmac() {
	local key=$1 p chain="" last
	p=$(pad "$2" 8)
	if ((${#p} > 16)); then
		chain=$(printf %s "${p:0:${#p}-16}" | tobin |
			openssl enc -des-cbc -nopad -iv "$(zeros 8)" -K "${key:0:16}" -provider legacy -provider default | tohex)
		chain=${chain: -16}
	else
		chain=$(zeros 8)
	fi
	last=$(ede "$key" "$(hxor "$chain" "${p: -16}")")
	printf %s "${last:0:8}"
}

mk=0123456789abcdeffedcba9876543210
asn=3150000012345678
f=${asn: -16}
appkey=$(ede "$mk" "$f")$(ede "$mk" "$(hnot "$f")")

# The stamp: counter 0007, campus (01), scope 00000457, check-in (01),
# terminal 315000000201, sequence 0000002a, 2026-09-01 07:45:30, uses 0000.
stamp=0007 # counter
stamp+=01 # application: campus
stamp+=00000457 # scope
stamp+=01 # action: check-in
stamp+=315000000201 # terminal
stamp+=0000002a # terminal sequence
stamp+=20260901074530 # date, time
stamp+=0000 # uses
stampmac=$(retailmac "$appkey" "$stamp")

# The write: counter 0007, slot 00, then action 01, terminal, sequence,
# date, time, uses 0000, inside 01, sites 0.
write=000700
write+=01315000000201 # action, terminal
write+=0000002a20260901074530 # sequence, date, time
write+=0000010000000000000000 # uses, inside, sites
writemac=$(retailmac "$appkey" "$write")

# The grants: format 01, key version 01, file version 00000003, one slot:
# campus, scope 00000457, 2026-09-01 to 2027-07-15, class 0305, limit 0.
grant=010100000003010100000457202609012027071503050000
grantmac=$(retailmac "$appkey" "$grant")

cat >stamp.json <<JSON
{
  "master": "$mk",
  "asn": "$asn",
  "app_key": "$appkey",
  "stamp_data": "$stamp",
  "stamp_mac": "$stampmac",
  "write_data": "$write",
  "write_mac": "$writemac",
  "grant_data": "$grant",
  "grant_mac": "$grantmac"
}
JSON
