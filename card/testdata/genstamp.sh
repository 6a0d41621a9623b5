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
# Every block cipher operation is one openssl call (keys/testdata/openssl.sh);
# bash and xxd only move hex around. Usage: card/testdata/genstamp.sh (OpenSSL 3 with the legacy
# provider, for single DES). Rerunning it must leave git clean.
set -euo pipefail
cd "$(dirname "$0")"
export LC_ALL=C

# The hex glue and the block cipher operations, shared with package keys.
. ../../keys/testdata/openssl.sh

mk=0123456789abcdeffedcba9876543210
asn=3150000012345678
appkey=$(divers 3des "$mk" "$asn")

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
