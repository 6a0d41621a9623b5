# Recomputes the first line of chain.golden independently of the Go code:
# the input hash and chain hash of entry 1 of TestChainGolden.
#   python3 ledger/testdata/chain1.py
import datetime, hashlib, struct

def s(x):
    x = x.encode()
    return struct.pack('>I', len(x)) + x

b = b"citycard.ledger.entry.v1\x00" + s("load-1") + s("load") + s("host:1")
b += struct.pack('>H', 0) + struct.pack('>Q', 0) + s("") + struct.pack('>Q', 0)
b += struct.pack('>I', 2)
b += bytes([6]) + s("3150000000000001") + struct.pack('>q', 100000)   # settlement, debit
b += bytes([1]) + s("3150000000000001") + struct.pack('>q', -100000)  # card_float, credit
ih = hashlib.sha256(b).digest()
t = datetime.datetime(2025, 3, 1, 8, 30, 0, tzinfo=datetime.timezone.utc)
ns = int(t.timestamp()) * 10**9 + 123456789
c = b"citycard.ledger.chain.v1" + bytes(32) + struct.pack('>Q', 1) + struct.pack('>Q', ns) + ih
print("1 input", ih.hex(), "chain", hashlib.sha256(c).hexdigest())
