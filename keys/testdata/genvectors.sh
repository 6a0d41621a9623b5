#!/usr/bin/env bash
# genvectors.sh computes the e-purse test vectors of package keys with
# openssl, independently of the Go code, and writes them next to itself:
#
#   vectors.json  card keys, session keys, MAC1, MAC2 and TAC of purchases
#                 and loads (read by TestVectors);
#   crypto.json   KCVs, MAC padding edge cases, the retail MAC, the
#                 diversification corner cases and the key wrap (read by
#                 the crypto and wrap tests).
#
# Every block cipher operation is one openssl call, and so is HKDF; bash
# and xxd only move hex around (concatenate, NOT, XOR, pad) and do the
# GF(2^128) multiplication of GCM's GHASH, which openssl's command line
# does not offer (its enc refuses AEAD ciphers). The rules are those of
# ../doc.go and docs DESIGN.md "Crypto":
#
#   card key   3DES: 3DES_MK(F) || 3DES_MK(NOT F)   SM4: SM4_MK(F || NOT F)
#              F = the rightmost 8 bytes of the ASN
#   session    3DES: 3DES_DPK(random || offline ctr || seq low 2), 8 bytes
#              3DES: 3DES_DLK(random || online ctr || 8000), 8 bytes
#              SM4:  SM4_K(the same 8 bytes || 80 00 00 00 00 00 00 00)
#   MAC        CBC-MAC, IV zero, pad 80 then 00 to the block size (a whole
#              block of data gets a whole padding block), left 4 bytes
#   TAC key    3DES: DTK left XOR DTK right (single DES); SM4: DTK itself
#   key wrap   transport key = the card key rule above, by PSAM ID;
#              KWK = HKDF-SHA256(transport key, no salt, info
#              "citycard-keys/1 wrap AES-256-GCM"), 32 bytes;
#              wrapped = nonce || AES-256-GCM_KWK(alg id || key, AD = ref)
#              || tag
#
# Usage: keys/testdata/genvectors.sh   (needs OpenSSL 3 with the legacy
# provider for single DES). The output is deterministic: rerunning it must
# leave git clean.
set -euo pipefail

cd "$(dirname "$0")"
export LC_ALL=C

# The hex glue and the block cipher operations: openssl.sh.
. ./openssl.sh

# session ALG CARDKEY INPUT8: the session key.
session() {
	case $1 in
	3des) ecb 3des "$2" "$3" ;;
	sm4) ecb sm4 "$2" "${3}8000000000000000" ;;
	esac
}

# mac ALG KEY DATA: the e-purse MAC with a session or TAC key.
mac() {
	case $1 in
	3des) cbcmac des "$2" "$3" ;;
	sm4) cbcmac sm4 "$2" "$3" ;;
	esac
}

# tackey ALG DTK: the key the TAC is computed with.
tackey() {
	case $1 in
	3des) hxor "${2:0:16}" "${2:16:16}" ;;
	sm4) printf %s "$2" ;;
	esac
}

# kcv ALG KEY: first 3 bytes of the encryption of a zero block.
kcv() {
	local out
	case "$1" in
	3des) out=$(ecb 3des "$2" "$(zeros 8)") ;;
	des) out=$(ecb des "$2" "$(zeros 8)") ;;
	sm4) out=$(ecb sm4 "$2" "$(zeros 16)") ;;
	esac
	printf %s "${out:0:6}"
}

# hkdf IKM INFO_HEX: HKDF-SHA256 (RFC 5869) with no salt, 32 bytes.
hkdf() {
	local info=()
	[[ -n "$2" ]] && info=(-kdfopt "hexinfo:$2")
	openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt "hexkey:$1" "${info[@]}" HKDF | tr -d ':\n' | tr 'A-F' 'a-f'
}

# gfmul X Y: the product of two 16-byte blocks in GCM's GF(2^128) (NIST SP
# 800-38D, algorithm 1: bits numbered from the left, R = E1 || 0^120), in
# four 32-bit words so that bash's signed 64-bit arithmetic never
# overflows. Arithmetic only: no cipher.
gfmul() {
	local x=$1 y=$2 i w bit lsb
	local z0=0 z1=0 z2=0 z3=0
	local v0=$((16#${y:0:8})) v1=$((16#${y:8:8})) v2=$((16#${y:16:8})) v3=$((16#${y:24:8}))
	for ((i = 0; i < 128; i++)); do
		w=$((16#${x:$((i / 32 * 8)):8}))
		bit=$(((w >> (31 - i % 32)) & 1))
		if ((bit)); then
			z0=$((z0 ^ v0)) z1=$((z1 ^ v1)) z2=$((z2 ^ v2)) z3=$((z3 ^ v3))
		fi
		lsb=$((v3 & 1))
		v3=$(((v3 >> 1) | ((v2 & 1) << 31)))
		v2=$(((v2 >> 1) | ((v1 & 1) << 31)))
		v1=$(((v1 >> 1) | ((v0 & 1) << 31)))
		v0=$((v0 >> 1))
		if ((lsb)); then v0=$((v0 ^ 0xe1000000)); fi
	done
	printf '%08x%08x%08x%08x' "$z0" "$z1" "$z2" "$z3"
}

# blocks16 H: H zero-padded to whole 16-byte blocks, one block a word.
blocks16() {
	local h=$1 i
	while ((${#h} % 32 != 0)); do h+=0; done
	for ((i = 0; i < ${#h}; i += 32)); do printf '%s ' "${h:i:32}"; done
}

# gcm KEY IV12 PLAIN AAD: AES-256-GCM ciphertext || tag (NIST SP 800-38D
# with a 96-bit IV): CTR from inc32(J0), J0 = IV || 00000001; the tag is
# GHASH_H(A, C, lengths) XOR AES_K(J0), H = AES_K(0^128).
gcm() {
	local key=$1 iv=$2 p=$3 a=$4 h c x blk
	h=$(ecb aes256 "$key" "$(zeros 16)")
	c=""
	if [[ -n "$p" ]]; then
		c=$(printf %s "$p" | tobin | openssl enc -aes-256-ctr -K "$key" -iv "${iv}00000002" | tohex)
	fi
	x=$(zeros 16)
	for blk in $(blocks16 "$a") $(blocks16 "$c") "$(printf %016x%016x $((${#a} * 4)) $((${#c} * 4)))"; do
		x=$(gfmul "$(hxor "$x" "$blk")" "$h")
	done
	printf %s "$c$(hxor "$x" "$(ecb aes256 "$key" "${iv}00000001")")"
}

# --- self-checks of the openssl calls ---------------------------------------

check() {
	if [[ "$2" != "$3" ]]; then
		echo "genvectors: self-check $1 failed: got $2, want $3" >&2
		exit 1
	fi
}
# GB/T 32907-2016 appendix A, example 1.
check sm4 "$(ecb sm4 0123456789abcdeffedcba9876543210 0123456789abcdeffedcba9876543210)" 681edf34d206965e86b3e94f536e4246
# -des-ede with K1 K2 is -des-ede3 with K1 K2 K1 spelt out.
k=0123456789abcdeffedcba9876543210
check des-ede "$(ecb 3des $k 1122334455667788)" \
	"$(printf %s 1122334455667788 | tobin | openssl enc -des-ede3 -nopad -K "${k}${k:0:16}" | tohex)"
# A 3DES key with K1 = K2 is single DES.
check des-ede-k1k1 "$(ecb 3des 0123456789abcdef0123456789abcdef 1122334455667788)" "$(ecb des 0123456789abcdef 1122334455667788)"
# RFC 5869 test case 3 (no salt, no info), its first 32 bytes.
check hkdf "$(hkdf 0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b "")" 8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d
# The GCM specification's test case 16 (AES-256, 60 bytes, 20 bytes of AAD).
check gcm "$(gcm feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308 cafebabefacedbaddecaf888 \
	d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39 \
	feedfacedeadbeeffeedfacedeadbeefabaddad2)" \
	522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f66276fc6ece0f4e1768cddf8853bb2d551b

# --- vectors.json -------------------------------------------------------------

# vector NAME ALG ASN MK_P MK_L MK_T \
#        P_RANDOM P_OFFCTR P_SEQ P_AMOUNT P_TYPE P_TERM P_DATE P_TIME \
#        L_RANDOM L_ONCTR L_BAL L_AMOUNT L_TYPE L_TERM L_DATE L_TIME
vector() {
	local name=$1 alg=$2 asn=$3 mkp=$4 mkl=$5 mkt=$6
	local prnd=$7 poff=$8 pseq=$9 pamt=${10} ptyp=${11} pterm=${12} pdate=${13} ptime=${14}
	local lrnd=${15} lon=${16} lbal=${17} lamt=${18} ltyp=${19} lterm=${20} ldate=${21} ltime=${22}
	local dpk dlk dtk tk seqhex psk pmac1 pmac2 ptac lsk lmac1 lmac2 ltac ltacdata
	dpk=$(divers "$alg" "$mkp" "$asn")
	dlk=$(divers "$alg" "$mkl" "$asn")
	dtk=$(divers "$alg" "$mkt" "$asn")
	tk=$(tackey "$alg" "$dtk")

	seqhex=$(u32 "$pseq")
	psk=$(session "$alg" "$dpk" "${prnd}$(u16 "$poff")${seqhex:4:4}")
	pmac1=$(mac "$alg" "$psk" "$(u32 "$pamt")${ptyp}${pterm}${pdate}${ptime}")
	pmac2=$(mac "$alg" "$psk" "$(u32 "$pamt")")
	ptac=$(mac "$alg" "$tk" "$(u32 "$pamt")${ptyp}${pterm}${seqhex}${pdate}${ptime}")

	lsk=$(session "$alg" "$dlk" "${lrnd}$(u16 "$lon")8000")
	lmac1=$(mac "$alg" "$lsk" "$(u32 "$lbal")$(u32 "$lamt")${ltyp}${lterm}")
	lmac2=$(mac "$alg" "$lsk" "$(u32 "$lamt")${ltyp}${lterm}${ldate}${ltime}")
	# The load TAC data is always 24 bytes: three whole 3DES blocks, so its
	# padding is a whole block of its own.
	ltacdata="$(u32 $((lbal + lamt)))$(u16 "$lon")$(u32 "$lamt")${ltyp}${lterm}${ldate}${ltime}"
	check "$name load TAC data length" $((${#ltacdata} / 2)) 24
	ltac=$(mac "$alg" "$tk" "$ltacdata")

	cat <<EOF
  {
    "name": "$name",
    "alg": "$alg",
    "asn": "$(lower "$asn")",
    "master_keys": {"purchase": "$(lower "$mkp")", "load": "$(lower "$mkl")", "tac": "$(lower "$mkt")"},
    "card_keys": {"purchase": "$dpk", "load": "$dlk", "tac": "$dtk"},
    "purchase": {"random": "$(lower "$prnd")", "offline_counter": $poff, "terminal_seq": $pseq, "amount": $pamt, "type": "$ptyp", "terminal_id": "$(lower "$pterm")", "date": "$pdate", "time": "$ptime", "session_key": "$psk", "mac1": "$pmac1", "mac2": "$pmac2", "tac": "$ptac"},
    "load": {"random": "$(lower "$lrnd")", "online_counter": $lon, "balance_before": $lbal, "amount": $lamt, "type": "$ltyp", "terminal_id": "$(lower "$lterm")", "date": "$ldate", "time": "$ltime", "session_key": "$lsk", "mac1": "$lmac1", "mac2": "$lmac2", "tac": "$ltac"}
  }
EOF
}

gen_vectors() {
	local sep="" v
	echo "["
	while read -r line; do
		[[ -z "$line" || "$line" == \#* ]] && continue
		v=$(vector $line) # word splitting intended: one field per argument
		printf '%s%s' "$sep" "$v"
		sep=$',\n'
	done <<'EOF'
# name                 alg  asn              master purchase                  master load                      master tac                       p.random p.off  p.seq      p.amount   p.type p.terminal   p.date   p.time l.random l.on  l.bal     l.amount   l.type l.terminal   l.date   l.time
3des-basic             3des 1000000100000001 0123456789abcdeffedcba9876543210 00112233445566778899aabbccddeeff f0e1d2c3b4a5968778695a4b3c2d1e0f 12345678 0      0          200        06     112233445566 20261124 083015 87654321 0     0         5000       02     112233445566 20261124 080000
3des-high-counters     3des 3101000012345678 a1b2c3d4e5f60718293a4b5c6d7e8f90 5a5a5a5a5a5a5a5aa5a5a5a5a5a5a5a5 0f1e2d3c4b5a69788796a5b4c3d2e1f0 deadbeef 65244  2309737967 4000000000 09     ffeeddccbbaa 20991231 235959 cafebabe 65535 123456789 2000000000 02     ffeeddccbbaa 20000101 000000
3des-asn-not           3des 00ff55aa0ff0807f 13579bdf02468acefdb97531eca86420 2b7e151628aed2a6abf7158809cf4f3c 000102030405060708090a0b0c0d0e0f 80000001 256    65536      1          06     000000000001 20260229 120000 7fffffff 256   99        1          02     000000000001 20260301 000001
3des-asn-zero          3des 0000000000000000 8899aabbccddeeff0011223344556677 f1f2f3f4f5f6f7f8e1e2e3e4e5e6e7e8 c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7 00000000 1      16777215   99999999   06     310100000042 20261124 235959 ffffffff 1     1         4294967294 02     310100000042 20261124 235958
sm4-basic              sm4  1000000100000001 0123456789abcdeffedcba9876543210 00112233445566778899aabbccddeeff f0e1d2c3b4a5968778695a4b3c2d1e0f 12345678 0      0          200        06     112233445566 20261124 083015 87654321 0     0         5000       02     112233445566 20261124 080000
sm4-high-counters      sm4  3101000012345678 a1b2c3d4e5f60718293a4b5c6d7e8f90 5a5a5a5a5a5a5a5aa5a5a5a5a5a5a5a5 0f1e2d3c4b5a69788796a5b4c3d2e1f0 deadbeef 65244  2309737967 4000000000 09     ffeeddccbbaa 20991231 235959 cafebabe 65535 123456789 2000000000 02     ffeeddccbbaa 20000101 000000
sm4-asn-not            sm4  00ff55aa0ff0807f 13579bdf02468acefdb97531eca86420 2b7e151628aed2a6abf7158809cf4f3c 000102030405060708090a0b0c0d0e0f 80000001 256    65536      1          06     000000000001 20260229 120000 7fffffff 256   99        1          02     000000000001 20260301 000001
sm4-asn-ones           sm4  ffffffffffffffff 8899aabbccddeeff0011223344556677 f1f2f3f4f5f6f7f8e1e2e3e4e5e6e7e8 c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d7 00000000 1      16777215   99999999   06     310100000042 20261124 235959 ffffffff 1     1         4294967294 02     310100000042 20261124 235958
EOF
	printf '\n]\n'
}

# --- crypto.json --------------------------------------------------------------

# macs ALG KEY LEN...: MAC vectors over the first LEN bytes of a fixed
# message, one per LEN (padding edge cases around the block size), each
# line but the very first preceded by a comma.
MACSEP=""
MSG=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f
macs() {
	local alg=$1 key=$2 n data m
	shift 2
	for n in "$@"; do
		data=${MSG:0:$((2 * n))}
		case $alg in
		des | sm4) m=$(cbcmac "$alg" "$key" "$data") ;;
		retail) m=$(retailmac "$key" "$data") ;;
		esac
		printf '%s    {"alg": "%s", "key": "%s", "data": "%s", "mac": "%s"}' "$MACSEP" "$alg" "$key" "$data" "$m"
		MACSEP=$',\n'
	done
}

gen_crypto() {
	local k3=0123456789abcdeffedcba9876543210 k1=133457799bbcdff1 ks=0123456789abcdeffedcba9876543210
	local mk=0123456789abcdeffedcba9876543210 issuer=3101000000000001 asn=31010000000012345678
	cat <<EOF
{
  "kcv": [
    {"alg": "3des", "key": "$k3", "kcv": "$(kcv 3des $k3)"},
    {"alg": "3des", "key": "$k1", "kcv": "$(kcv des $k1)"},
    {"alg": "3des", "key": "00000000000000000000000000000000", "kcv": "$(kcv 3des 00000000000000000000000000000000)"},
    {"alg": "sm4", "key": "$ks", "kcv": "$(kcv sm4 $ks)"},
    {"alg": "sm4", "key": "00000000000000000000000000000000", "kcv": "$(kcv sm4 00000000000000000000000000000000)"}
  ],
  "mac": [
$(
		macs des $k1 0 1 7 8 9 15 16 17 24
		macs sm4 $ks 0 1 15 16 17 31 32 33
		macs retail $k3 0 1 7 8 9 16 17 24
	)
  ],
  "diversify": [
    {"alg": "3des", "master": "$mk", "id": "31010000000012345678", "child": "$(divers 3des $mk 31010000000012345678)"},
    {"alg": "3des", "master": "$mk", "id": "1234", "child": "$(divers 3des $mk 1234)"},
    {"alg": "sm4", "master": "$mk", "id": "31010000000012345678", "child": "$(divers sm4 $mk 31010000000012345678)"},
    {"alg": "sm4", "master": "$mk", "id": "", "child": "$(divers sm4 $mk "")"}
  ],
  "two_level": [
    {"alg": "3des", "master": "$mk", "issuer": "$issuer", "asn": "$asn", "child": "$(divers 3des "$(divers 3des $mk $issuer)" $asn)"},
    {"alg": "sm4", "master": "$mk", "issuer": "$issuer", "asn": "$asn", "child": "$(divers sm4 "$(divers sm4 $mk $issuer)" $asn)"}
  ],
  "components": [
$(components 3des 1f2e3d4c5b6a79881f2e3d4c5b6a7988 0123456789abcdeffedcba9876543210),
$(components 3des 0a0b0c0d0e0f10111213141516171819 a0b1c2d3e4f5061728394a5b6c7d8e9f 5566778899aabbccddeeff0011223344),
$(components sm4 0123456789abcdeffedcba9876543210 00112233445566778899aabbccddeeff),
$(components sm4 c0ffee00c0ffee00c0ffee00c0ffee00 deadbeefdeadbeefdeadbeefdeadbeef 0f0f0f0f0f0f0f0ff0f0f0f0f0f0f0f0)
  ],
  "wrap": [
$(wrapvec 3des 2b7e151628aed2a6abf7158809cf4f3c 31500000000001000001 3150000100000000/purchase/v1 3des 0123456789abcdeffedcba9876543210 000102030405060708090a0b),
$(wrapvec 3des 2b7e151628aed2a6abf7158809cf4f3c 31500000000001000002 3150000100000000/maintenance/v3 sm4 00112233445566778899aabbccddeeff f0f1f2f3f4f5f6f7f8f9fafb),
$(wrapvec sm4 000102030405060708090a0b0c0d0e0f 3150000000000100ffff 3101000000000001/purchase/v2 3des f0e1d2c3b4a5968778695a4b3c2d1e0f cafebabefacedbaddecaf888)
  ]
}
EOF
}

# wrapvec ALG TMK PSAM_ID REF KEY_ALG KEY NONCE: a master key wrapped for
# a PSAM: the PSAM's transport key (TMK diversified by the PSAM ID), the
# wrapping key and the wrapped key, with a fixed nonce.
wrapvec() {
	local alg=$1 tmk=$2 id=$3 ref=$4 kalg=$5 key=$6 nonce=$7 tk kwk algid
	tk=$(divers "$alg" "$tmk" "$id")
	kwk=$(hkdf "$tk" "$(printf %s "citycard-keys/1 wrap AES-256-GCM" | tohex)")
	case $kalg in
	3des) algid=00 ;;
	sm4) algid=04 ;;
	esac
	printf '    {"alg": "%s", "transport_master": "%s", "psam_id": "%s", "transport_key": "%s", "kwk": "%s", "ref": "%s", "key_alg": "%s", "key": "%s", "nonce": "%s", "wrapped": "%s"}' \
		"$alg" "$tmk" "$id" "$tk" "$kwk" "$ref" "$kalg" "$key" "$nonce" "$nonce$(gcm "$kwk" "$nonce" "$algid$key" "$(printf %s "$ref" | tohex)")"
}

# components ALG C...: the components a ceremony combines, each with its
# KCV, and the combined key (their XOR) with its KCV.
components() {
	local alg=$1 key c comps="" kcvs="" sep=""
	shift
	key=$(zeros 16)
	for c in "$@"; do
		key=$(hxor "$key" "$c")
		comps+="$sep\"$c\""
		kcvs+="$sep\"$(kcv "$alg" "$c")\""
		sep=", "
	done
	printf '    {"alg": "%s", "components": [%s], "kcvs": [%s], "key": "%s", "kcv": "%s"}' \
		"$alg" "$comps" "$kcvs" "$key" "$(kcv "$alg" "$key")"
}

gen_vectors >vectors.json.tmp
mv vectors.json.tmp vectors.json
gen_crypto >crypto.json.tmp
mv crypto.json.tmp crypto.json
echo "genvectors: wrote $(pwd)/vectors.json and $(pwd)/crypto.json" >&2
