#!/usr/bin/env python3
# Known answer for the PIN grid (docs/srp6.md §10.3), straight from the formula.
import hashlib
def remap(seed):
    digits = list(range(10)); out = []
    for i in range(10, 0, -1):
        r = seed % i; seed //= i
        out.append(digits.pop(r))
    return out
def pin_hash(seed, server_salt, client_salt, pin):
    grid = remap(seed)
    q = bytes(0x30 + grid.index(int(d)) for d in pin)
    inner = hashlib.sha1(server_salt + q).digest()
    return grid, q, hashlib.sha1(client_salt + inner).hexdigest()
seed = 0x9E3779B9
ss = bytes(range(16))
cs = bytes(range(0xF0, 0x100))
for pin in ["1234", "0481516234", "042042"]:
    print(seed, pin, pin_hash(seed, ss, cs, pin))
print(remap(0), remap(3628799))
