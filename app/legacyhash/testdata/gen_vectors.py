#!/usr/bin/python3
"""Regenerates vectors.json from the source systems' own tools.

Run on Debian 12 after:
  apt-get install -y whois apache2-utils argon2 openssl python3-passlib python3-bcrypt python3-django
  /usr/bin/python3 gen_vectors.py > vectors.json

Salts are fixed wherever the tool accepts one; where it does not (htpasswd,
python-bcrypt gensalt, passlib defaults) the output changes on every run,
which is fine: every vector is produced by the tool, never by us.
"""
import warnings; warnings.filterwarnings("ignore")
import base64, crypt, hashlib, json, subprocess, sys, warnings

warnings.filterwarnings("ignore")
import bcrypt
from passlib import hash as ph
from django.conf import settings
settings.configure(PASSWORD_HASHERS=[
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
])
from django.contrib.auth.hashers import make_password, check_password

out = []
def enc(name, password, encoded, source):
    out.append({"name": name, "password": password, "encoded": encoded, "source": source})

def run(args, stdin=None):
    return subprocess.run(args, input=stdin, capture_output=True, check=True, text=True).stdout.strip()

# --- crypt(3) SHA-256 / SHA-512: Drepper's SHA-crypt.txt vectors, each
# --- checked against this machine's crypt(3) (libxcrypt) before it is written.
drepper = [
 ("$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"),
 ("$5$rounds=10000$saltstringsaltstring", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"),
 ("$5$rounds=5000$toolongsaltstring", "This is just a test", "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"),
 ("$5$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"),
 ("$5$rounds=77777$short", "we have a short salt string but not a short password", "$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"),
 ("$5$rounds=123456$asaltof16chars..", "a short string", "$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"),
 ("$5$rounds=10$roundstoolow", "the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"),
 ("$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
 ("$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
 ("$6$rounds=5000$toolongsaltstring", "This is just a test", "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"),
 ("$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"),
 ("$6$rounds=77777$short", "we have a short salt string but not a short password", "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"),
 ("$6$rounds=123456$asaltof16chars..", "a short string", "$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"),
 ("$6$rounds=10$roundstoolow", "the minimum number is still observed", "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."),
]
for i, (salt, pw, want) in enumerate(drepper):
    # libxcrypt refuses the setting "rounds=10" (the spec's glibc clamped it),
    # so every vector is checked the way a login checks it: crypt(pw, hash).
    got = crypt.crypt(pw, want)
    assert got == want, (salt, got, want)
    enc("drepper-%s-%d" % ("sha256" if salt[1] == "5" else "sha512", i), pw, want, "Drepper SHA-crypt.txt; equal to crypt(3) output")

for method, rounds, salt, pw in [
    ("sha-512", "5000", "saltsalt", "password"),
    ("sha-512", "656000", "TCmGJuR.Yy2QW3rw", "correct horse battery staple"),
    ("sha-256", "5000", "abcdefgh", "pässwörd ✓"),
    ("sha-256", "1000", "XyZ./0123", "p"),
    ("sha-512", "1000", "0123456789abcdef", "x" * 200),
]:
    h = run(["mkpasswd", "-m", method, "-R", rounds, "-S", salt, "-s"], pw)
    enc("mkpasswd-%s-r%s" % (method, rounds), pw, h, "mkpasswd -m %s -R %s -S %s -s" % (method, rounds, salt))
h = run(["mkpasswd", "-m", "sha-512", "-s"], "no rounds given")
enc("mkpasswd-sha-512-default", "no rounds given", h, "mkpasswd -m sha-512 -s (default rounds, random salt)")

# --- bcrypt
for cost, pw in [("5", "password"), ("4", "pässwörd ✓"), ("10", "correct horse")]:
    h = run(["htpasswd", "-bnBC", cost, "", pw]).lstrip(":")
    enc("htpasswd-2y-c%s" % cost, pw, h, "htpasswd -bnBC %s '' PASSWORD (apache2-utils)" % cost)
for prefix, pw in [(b"2b", "password"), (b"2a", "Tr0ub4dor&3"), (b"2b", "")]:
    h = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(4, prefix=prefix)).decode()
    enc("pybcrypt-%s" % prefix.decode(), pw, h, "python3-bcrypt hashpw(pw, gensalt(4, prefix=%r))" % prefix)
long = "0123456789" * 8  # 80 bytes
h = bcrypt.hashpw(long.encode(), bcrypt.gensalt(4)).decode()
enc("pybcrypt-80-bytes", long, h, "python3-bcrypt hashpw of an 80-byte password (it truncates to 72)")
h = ph.bcrypt.using(rounds=5, ident="2y").hash("passlib pw")
enc("passlib-bcrypt-2y", "passlib pw", h, "passlib.hash.bcrypt.using(rounds=5, ident='2y').hash")

# --- Django PBKDF2
for algo, it, salt, pw in [
    ("pbkdf2_sha256", 260000, "seasalt", "lètmein"),
    ("pbkdf2_sha256", 1000, "Xb3kQ9pLmNzR", "password"),
    ("pbkdf2_sha1", 1000, "seasalt", "lètmein"),
    ("pbkdf2_sha1", 20000, "a1b2c3", "hunter2"),
]:
    h = make_password(pw, salt, algo)
    if it != 260000:
        from django.contrib.auth.hashers import get_hasher
        h = get_hasher(algo).encode(pw, salt, it)
    assert check_password(pw, h)
    enc("django-%s-%d" % (algo, it), pw, h, "Django 3.2 get_hasher(%r).encode(pw, %r, %d)" % (algo, salt, it))
from django.contrib.auth.hashers import get_hasher
for algo, pw in [("bcrypt_sha256", "lètmein"), ("bcrypt_sha256", "x" * 100), ("bcrypt", "lètmein")]:
    hasher = get_hasher(algo)
    hasher.rounds = 4
    h = hasher.encode(pw, hasher.salt())
    assert check_password(pw, h)
    enc("django-%s-%d" % (algo, len(pw)), pw, h, "Django 3.2 get_hasher(%r) with rounds=4: encode(pw, salt())" % algo)
# RFC 6070 PBKDF2-HMAC-SHA1 vectors (dkLen 20) written as Django pbkdf2_sha1 strings.
for it, dk in [(1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"), (2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"), (4096, "4b007901b765489abead49d926f721d065a429c1")]:
    assert hashlib.pbkdf2_hmac("sha1", b"password", b"salt", it).hex() == dk
    h = "pbkdf2_sha1$%d$salt$%s" % (it, base64.b64encode(bytes.fromhex(dk)).decode())
    assert check_password("password", h)
    enc("rfc6070-django-sha1-%d" % it, "password", h, "RFC 6070 P=password S=salt c=%d, as a Django string, checked by Django" % it)

# --- passlib PBKDF2 (adapted base64)
for name, rounds, pw in [("pbkdf2_sha256", 1000, "password"), ("pbkdf2_sha256", 29000, "pässwörd"), ("pbkdf2_sha512", 1000, "password"), ("pbkdf2_sha1", 1000, "password")]:
    h = getattr(ph, name).using(rounds=rounds).hash(pw)
    enc("passlib-%s-%d" % (name, rounds), pw, h, "passlib.hash.%s.using(rounds=%d).hash" % (name, rounds))
# passlib documentation examples
assert ph.pbkdf2_sha256.verify("password", "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M")
enc("passlib-doc-pbkdf2_sha256", "password", "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M", "passlib docs, passlib.hash.pbkdf2_digest")

# --- scrypt (passlib format)
for ln, r, p, pw in [(8, 8, 1, "password"), (10, 4, 2, "pässwörd"), (12, 8, 1, "")]:
    h = ph.scrypt.using(rounds=ln, block_size=r, parallelism=p).hash(pw)
    enc("passlib-scrypt-ln%d" % ln, pw, h, "passlib.hash.scrypt.using(rounds=%d, block_size=%d, parallelism=%d).hash" % (ln, r, p))
assert ph.scrypt.verify("password", "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ")
enc("passlib-doc-scrypt", "password", "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ", "passlib docs, passlib.hash.scrypt")
def b64s(b): return base64.b64encode(b).decode().rstrip("=")
for pw, salt, ln, r, p, dk in [
    ("", "", 4, 1, 1, "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"),
    ("password", "NaCl", 10, 8, 16, "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"),
    ("pleaseletmein", "SodiumChloride", 14, 8, 1, "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"),
]:
    assert hashlib.scrypt(pw.encode(), salt=salt.encode(), n=1 << ln, r=r, p=p, dklen=64, maxmem=1 << 28).hex() == dk
    h = "$scrypt$ln=%d,r=%d,p=%d$%s$%s" % (ln, r, p, b64s(salt.encode()), b64s(bytes.fromhex(dk)))
    enc("rfc7914-ln%d" % ln, pw, h, "RFC 7914 section 12 vector (64-byte key), written in passlib's $scrypt$ form")

# --- argon2 (reference CLI)
for variant, t, k, p, l, salt, pw in [
    ("-id", "2", "65536", "4", "32", "somesalt", "password"),
    ("-i", "2", "65536", "4", "24", "somesalt", "password"),
    ("-id", "3", "4096", "1", "16", "saltsaltsalt", "pässwörd"),
    ("-i", "1", "256", "2", "64", "0123456789abcdef", "x"),
]:
    h = run(["argon2", salt, variant, "-t", t, "-k", k, "-p", p, "-l", l, "-e"], pw)
    enc("argon2cli%s-t%s-k%s" % (variant, t, k), pw, h, "printf %%s PW | argon2 %s %s -t %s -k %s -p %s -l %s -e" % (salt, variant, t, k, p, l))

# --- raw digests (openssl dgst)
digests = []
for algo, salt, pos, encoding, pw in [
    ("md5", "", "", "hex", "password"),
    ("sha1", "", "", "base64", "password"),
    ("sha1", "s4lt", "prefix", "hex", "pässwörd"),
    ("sha256", "pepperoni", "suffix", "hex", "hunter2"),
    ("sha256", "", "", "base64", ""),
    ("sha512", "NaCl", "prefix", "base64", "correct horse"),
    ("md5", "xyz", "suffix", "base64", "letmein"),
]:
    msg = (salt + pw) if pos == "prefix" else (pw + salt)
    raw = subprocess.run(["openssl", "dgst", "-" + algo, "-binary"], input=msg.encode(), capture_output=True, check=True).stdout
    val = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()
    d = {"algorithm": algo, "hash": val, "encoding": encoding}
    if salt:
        d["salt"] = salt
        d["salt_position"] = pos
    digests.append({"name": "openssl-%s-%s-%s" % (algo, pos or "nosalt", encoding), "password": pw, "digest": d,
                    "source": "printf %%s %r | openssl dgst -%s -binary, then %s" % (msg, algo, encoding)})

json.dump({"encoded": out, "digests": digests}, sys.stdout, indent=1, ensure_ascii=False)
print()
