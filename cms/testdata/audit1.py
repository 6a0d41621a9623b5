# Recomputes the first line of audit.golden without the Go code: the
# hash of the first record of TestAuditGolden's sample, as Audit.Chain
# encodes it.
import hashlib, struct, datetime

at = datetime.datetime(2026, 3, 1, 1, 30, 0, tzinfo=datetime.timezone.utc)
ns = int(at.timestamp()) * 10**9 + 123456789
b = b"citycard.cms.audit.v1\x00" + bytes(32) + struct.pack(">QQ", 1, ns)
for s in ["ann", "nb-counter-01", "holder:1", "register", "", '{"id":1}']:
    e = s.encode()
    b += struct.pack(">I", len(e)) + e
print("1", hashlib.sha256(b).hexdigest())
