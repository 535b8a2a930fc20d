#!/usr/bin/env python3
"""Regenerates libxcrypt.txt: crypt(3) of Debian 12's libcrypt.so.1 (libxcrypt 4.4.33, which haproxy links)
for the schemes Duet implements (bcrypt too) and for settings libxcrypt refuses. Columns: password (hex), setting, result."""
import ctypes, random
lib = ctypes.CDLL("libcrypt.so.1")
lib.crypt.restype = ctypes.c_char_p
lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
rng = random.Random(4)
B64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
pws = [b"", b"a", b"pw", b"secret", b"12345678", b"123456789", b"password1", b"\xff\x80pwd", b"\x7fpwd\xc3\xa9",
       b"x" * 16, b"y" * 17, b"long " * 30, b"a:b c"]
pws += [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 70))) for _ in range(12)]
def salt(n): return bytes(rng.choice(B64) for _ in range(n))
rows = []
for pw in pws:
    settings = [salt(2), salt(2) + b"a" * 20, b"_" + salt(2) + b".." + salt(4), b"$1$" + salt(rng.randrange(0, 9)),
                b"$1$" + salt(12), b"$1$a-b~#", b"$5$" + salt(16), b"$6$" + salt(4),
                b"$5$rounds=1000$" + salt(8), b"$6$rounds=1234$" + salt(20)]
    for s in settings:
        rows.append((pw, s, lib.crypt(pw, s)))
for s in [b"a-", b"a", b"", b"_J9..CCC", b"_J9..CC-C", b"$1$a!b", b"$1$a b", b"$5$rounds=999$x", b"$5$rounds=01000$x",
          b"$6$rounds=1000", b"$apr1$abc$", b"*0", b"!ab", b"_........", b"_/.......", b"_/0..", b"$y$j9T$F5Jx5fExrKuPp53xLKQ..1$"]:
    rows.append((b"pw", s, lib.crypt(b"pw", s)))
# bcrypt, from a generator of its own so that the rows above stay as they were
rng2 = random.Random(5)
BCRYPT64 = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
def bsalt(): return bytes(rng2.choice(BCRYPT64) for _ in range(22))
for pw in pws + [b"z" * 71, b"z" * 72, b"z" * 73, b"w" * 100]:
    for prefix in (b"$2b$04$", b"$2y$04$", b"$2a$05$"):
        s = prefix + bsalt()
        rows.append((pw, s, lib.crypt(pw, s)))
for pw in [b"\xff\xff\xff", b"\xff" * 72]:  # $2a$ of these differs (bcrypt2aAltered); $2b$ and $2y$ do not
    for prefix in (b"$2b$04$", b"$2y$04$"):
        s = prefix + bsalt()
        rows.append((pw, s, lib.crypt(pw, s)))
for s in [b"$2b$03$" + b"a" * 22, b"$2b$32$" + b"a" * 22, b"$2b$4$" + b"a" * 22, b"$2b$04$" + b"a" * 21,
          b"$2b$04$" + b"a" * 21 + b"b", b"$2b$04$" + b"a" * 21 + b"e", b"$2b$04$" + b"a" * 21 + b"-", b"$2c$04$" + b"a" * 22,
          b"$2x$04$" + b"a" * 22, b"$2$04$" + b"a" * 22, b"$2b$04$" + b"a" * 22 + b"tail"]:
    rows.append((b"pw", s, lib.crypt(b"pw", s)))
with open("libxcrypt.txt", "w") as f:
    for pw, s, r in rows:
        f.write("%s\t%s\t%s\n" % (pw.hex(), s.decode(), r.decode()))
