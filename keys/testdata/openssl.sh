# openssl.sh: the hex glue and the block cipher operations the test vector
# scripts share (genvectors.sh here, card/testdata/genstamp.sh): every block
# cipher operation is one openssl call; bash and xxd only move hex around.
# Source it; it defines functions and runs nothing.

# --- hex glue (no cryptography) ---------------------------------------------

# tobin: hex on stdin to bytes on stdout.
tobin() { xxd -r -p; }
# tohex: bytes on stdin to lowercase hex, one line.
tohex() { xxd -p -c 4096 | tr -d '\n'; }
# zeros N: N zero bytes in hex.
zeros() { local s="" i; for ((i = 0; i < $1; i++)); do s+=00; done; printf %s "$s"; }
# hnot H: the bitwise NOT of hex H.
hnot() {
	local h=$1 out="" i
	for ((i = 0; i < ${#h}; i += 2)); do out+=$(printf %02x $((0xff ^ 0x${h:i:2}))); done
	printf %s "$out"
}
# hxor A B: A XOR B (same length).
hxor() {
	local a=$1 b=$2 out="" i
	[[ ${#a} -eq ${#b} ]] || { echo "hxor: lengths differ" >&2; exit 1; }
	for ((i = 0; i < ${#a}; i += 2)); do out+=$(printf %02x $((0x${a:i:2} ^ 0x${b:i:2}))); done
	printf %s "$out"
}
# pad H BS: ISO 9797-1 method 2: append 80, then 00 to a multiple of BS bytes.
pad() {
	local h="${1}80"
	while (((${#h} / 2) % $2 != 0)); do h+=00; done
	printf %s "$h"
}
u32() { printf %08x "$1"; }
u16() { printf %04x "$1"; }
lower() { tr 'A-F' 'a-f' <<<"$1"; }

# --- block cipher operations: each is one openssl call ----------------------

# ecb ALG KEY DATA: ECB encryption of whole blocks. 3des with a 16-byte key
# is -des-ede (K1 K2 K1), never -des-ede3 (which would zero-pad the key).
ecb() {
	local alg=$1 key=$2 data=$3
	case "$alg/${#key}" in
	3des/32) printf %s "$data" | tobin | openssl enc -des-ede -nopad -K "$key" | tohex ;;
	des/16) printf %s "$data" | tobin | openssl enc -des-cbc -nopad -iv "$(zeros 8)" -K "$key" -provider legacy -provider default | tohex ;;
	sm4/32) printf %s "$data" | tobin | openssl enc -sm4-ecb -nopad -K "$key" | tohex ;;
	aes256/64) printf %s "$data" | tobin | openssl enc -aes-256-ecb -nopad -K "$key" | tohex ;;
	*) echo "ecb: $alg key of ${#key} hex digits" >&2; exit 1 ;;
	esac
}

# cbcmac ALG KEY DATA: the 4-byte MAC. des: single-DES CBC (8-byte key);
# sm4: SM4 CBC (16-byte key). The MAC is the left 4 bytes of the last block.
cbcmac() {
	local alg=$1 key=$2 data=$3 bs out
	case "$alg/${#key}" in
	des/16)
		bs=8
		out=$(printf %s "$(pad "$data" 8)" | tobin |
			openssl enc -des-cbc -nopad -iv "$(zeros 8)" -K "$key" -provider legacy -provider default | tohex)
		;;
	sm4/32)
		bs=16
		out=$(printf %s "$(pad "$data" 16)" | tobin | openssl enc -sm4-cbc -nopad -iv "$(zeros 16)" -K "$key" | tohex)
		;;
	*) echo "cbcmac: $alg key of ${#key} hex digits" >&2; exit 1 ;;
	esac
	local last=${out: -$((2 * bs))}
	printf %s "${last:0:8}"
}

# retailmac KEY16 DATA: ISO 9797-1 MAC algorithm 3 (padding method 2):
# single-DES CBC under K1 over every block but the last, then the last
# chained block through 3DES (K1 K2 K1).
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
	last=$(ecb 3des "$key" "$(hxor "$chain" "${p: -16}")")
	printf %s "${last:0:8}"
}

# divers ALG MK ID: the child key of MK for the rightmost 8 bytes of ID.
divers() {
	local alg=$1 mk=$2 id=$3 f
	f=$id
	((${#f} > 16)) && f=${f:${#f}-16}
	while ((${#f} < 16)); do f=00$f; done
	case $alg in
	3des) printf %s "$(ecb 3des "$mk" "$f")$(ecb 3des "$mk" "$(hnot "$f")")" ;;
	sm4) ecb sm4 "$mk" "$f$(hnot "$f")" ;;
	esac
}
