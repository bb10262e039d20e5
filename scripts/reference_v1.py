#!/usr/bin/env python3
"""Independent reference implementation of delivery-otp spec v1 (SPEC.md).

Written from SPEC.md with Python's hmac and hashlib only, so that the Swift
implementation can be checked against something that shares none of its code.

  reference_v1.py MASTER_HEX SCOPE DATE ID   prints: DAY_KEY_HEX CODE
  reference_v1.py --batch                    reads MASTER_HEX<TAB>SCOPE<TAB>DATE<TAB>ID lines
                                             from stdin, prints DAY_KEY_HEX CODE for each
"""
import hashlib
import hmac
import sys


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def day_key(master: bytes, scope: str, date: str) -> bytes:
    info = b"delivery-otp/v1/day-key" + b"\x00" + scope.encode("ascii") + b"\x00" + date.encode("ascii")
    return hkdf_sha256(master, b"", info, 32)


def fingerprint(secret: bytes) -> str:
    f = hkdf_sha256(secret, b"", b"delivery-otp/v1/fingerprint", 8).hex()
    return "-".join(f[i:i + 4] for i in range(0, 16, 4))


def code(master: bytes, scope: str, date: str, shipment_id: str) -> tuple[bytes, str]:
    kd = day_key(master, scope, date)
    tag = hmac.new(kd, shipment_id.encode("ascii") + date.encode("ascii"), hashlib.sha256).digest()
    o = tag[31] & 0x0F
    p = ((tag[o] & 0x7F) << 24) | (tag[o + 1] << 16) | (tag[o + 2] << 8) | tag[o + 3]
    return kd, "%06d" % (p % 1_000_000)


if __name__ == "__main__":
    if sys.argv[1:] == ["--batch"]:
        for line in sys.stdin.read().split("\n"):
            if line:
                master_hex, scope, date, shipment_id = line.split("\t", 3)
                kd, c = code(bytes.fromhex(master_hex), scope, date, shipment_id)
                print(kd.hex(), c)
        sys.exit(0)
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    kd, c = code(bytes.fromhex(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
    print(kd.hex(), c)
