#!/usr/bin/env python3
"""An independent checker of a portreg authority's log, written from the specifications
alone (c2sp.org/signed-note, tlog-checkpoint, tlog-tiles, tlog-cosignature, RFC 9162),
not from portreg's code. Usage:

    check.py BASE LOG_VKEY [WITNESS_VKEY ...]

It fetches the checkpoint and checks its signature, rebuilds the tree's root from the
hash tiles, checks each entry bundle against the tiles, every inclusion proof and every
consistency proof the server gives, each witness's cosignature, and that the registry
served is the one the checkpoint signs. Prints a line per check and ends with
"N passed, M failed"; exits 1 on any failure.
"""
import base64
import hashlib
import json
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

passed = failed = 0


def check(label, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok    {label}")
    else:
        failed += 1
        print(f"FAIL  {label} {detail}")


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as answer:
        return answer.read()


def parse_vkey(vkey, kind):
    """signed-note: NAME+KEYID+BASE64(TYPE || KEY); the key ID is
    SHA-256(NAME || 0x0A || TYPE || KEY)[:4]."""
    name, key_id, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    assert raw[0] == kind, f"key type {raw[0]:#x}, expected {kind:#x}"
    computed = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    assert computed.hex() == key_id, "key ID does not match"
    return name, computed, Ed25519PublicKey.from_public_bytes(raw[1:])


def split_note(note):
    """signed-note: text lines, an empty line, then signature lines `— NAME BASE64`."""
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    lines = []
    for line in signatures.rstrip("\n").split("\n"):
        dash, name, blob = line.split(" ")
        assert dash == "\u2014", f"not a signature line: {line!r}"
        lines.append((name, base64.b64decode(blob)))
    return text, lines


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(hashes):
    """RFC 9162 MTH over leaf hashes already computed."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(root_of(hashes[:k]), root_of(hashes[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or first > second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def tile_path(level, index, width):
    """tlog-tiles: N in groups of three digits, all but the last prefixed with x."""
    groups = []
    while True:
        groups.insert(0, f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    path = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    return f"tile/{level}/{path}" + ("" if width == 256 else f".p/{width}")


def main():
    base, log_vkey, witness_vkeys = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3:]
    name, key_id, key = parse_vkey(log_vkey, 0x01)
    note = get(base, "/v1/log/checkpoint").decode()
    text, signatures = split_note(note)
    signed = [s for n, s in signatures if n == name and s[:4] == key_id]
    try:
        key.verify(signed[0][4:], text.encode())
        check("checkpoint signed by the log's key", True)
    except (IndexError, InvalidSignature):
        check("checkpoint signed by the log's key", False, note)
    lines = text.rstrip("\n").split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    extensions = dict(line.split(" ", 1) for line in lines[3:])
    check("origin is the key's name", origin == name, origin)

    # The tree rebuilt from the hash tiles of level 0, and the entries against them.
    hashes = []
    for index in range((size + 255) // 256):
        width = min(256, size - index * 256)
        tile = get(base, "/v1/log/" + tile_path(0, index, width))
        check(f"tile 0/{index} width {width}", len(tile) == 32 * width, len(tile))
        tile_hashes = [tile[i:i + 32] for i in range(0, len(tile), 32)]
        hashes += tile_hashes
        bundle = get(base, "/v1/log/" + tile_path(0, index, width).replace("tile/0/", "tile/entries/"))
        entries, at = [], 0
        while at < len(bundle):
            length = int.from_bytes(bundle[at:at + 2], "big")
            entries.append(bundle[at + 2:at + 2 + length])
            at += 2 + length
        check(f"entry bundle {index} hashes to its tile",
              [leaf_hash(e) for e in entries] == tile_hashes)
    check("root rebuilt from the tiles", size > 0 and root_of(hashes) == root)

    for entry in range(1, size + 1):
        answer = json.loads(get(base, f"/v1/log/proof/inclusion?entry={entry}"))
        proof = [bytes.fromhex(h) for h in answer["proof"]]
        leaf = leaf_hash(bytes.fromhex(answer["leaf"]))
        check(f"inclusion of entry {entry}",
              answer["size"] == size and leaf == hashes[entry - 1]
              and verify_inclusion(entry - 1, size, leaf, proof, root))
    for first in range(1, size):
        answer = json.loads(get(base, f"/v1/log/proof/consistency?from={first}&to={size}"))
        proof = [bytes.fromhex(h) for h in answer["proof"]]
        check(f"consistency {first} -> {size}",
              verify_consistency(first, size, root_of(hashes[:first]), root, proof))

    # tlog-cosignature v1: ID(4) || TIMESTAMP(8, big-endian) || Ed25519 over
    # "cosignature/v1\ntime T\n" + the checkpoint's body.
    for vkey in witness_vkeys:
        wname, wid, wkey = parse_vkey(vkey, 0x04)
        found = False
        for n, sig in signatures:
            if n == wname and sig[:4] == wid:
                stamp = int.from_bytes(sig[4:12], "big")
                message = f"cosignature/v1\ntime {stamp}\n".encode() + text.encode()
                try:
                    wkey.verify(sig[12:], message)
                    found = True
                except InvalidSignature:
                    pass
        check(f"cosigned by {wname}", found)

    registry = hashlib.sha256(get(base, "/v1/registry.bin")).hexdigest()
    check("the registry served is the one signed",
          extensions.get("registry") == f"sha256 {registry}", extensions)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
