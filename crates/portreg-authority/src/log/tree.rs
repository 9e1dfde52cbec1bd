//! The log's Merkle tree as stored hashes (Go's `sumdb/tlog` layout, by `tlog_tiles`):
//! every complete subtree's hash kept once, so that a root, an inclusion proof or a
//! consistency proof at any size reads at most a few dozen hashes, and a tile of
//! `c2sp.org/tlog-tiles` is a slice of them. A leaf is an entry's chain hash, the 32
//! bytes of [`crate::Authority::verify`]'s SHA-256; its leaf hash is RFC 9162's,
//! `SHA-256(0x00 || hash)`, and nodes are `SHA-256(0x01 || left || right)`.

use tlog_tiles::{
    prove_record, prove_tree, stored_hash_index, stored_hashes, tree_hash, Hash, HashReader, Tile,
};

/// The height of a tile: 256 hashes a tile, as `c2sp.org/tlog-tiles` fixes it.
pub const TILE_HEIGHT: u8 = 8;

/// Entries (or hashes) a full tile holds.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// The tree of a log: its leaves and every stored hash.
#[derive(Clone, Debug, Default)]
pub struct LogTree {
    leaves: Vec<[u8; 32]>,
    hashes: Vec<Hash>,
}

/// The stored hashes of a tree and the hashes one more leaf would add.
struct Extended<'a> {
    base: &'a [Hash],
    extra: &'a [Hash],
}

fn read(hashes: &[Hash], extra: &[Hash], indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
    indexes
        .iter()
        .map(|&index| {
            let index = usize::try_from(index).map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
            hashes
                .get(index)
                .or_else(|| extra.get(index.checked_sub(hashes.len())?))
                .copied()
                .ok_or(tlog_tiles::Error::IndexesNotInTree)
        })
        .collect()
}

impl HashReader for LogTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        read(&self.hashes, &[], indexes)
    }
}

impl HashReader for Extended<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        read(self.base, self.extra, indexes)
    }
}

/// Why a proof or a tile cannot be given.
fn bounds(what: &str, size: u64) -> String {
    format!("{what}: the log has {size} entries")
}

impl LogTree {
    /// Entries in the tree.
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Leaf `index` (from 0): an entry's chain hash.
    pub fn leaf(&self, index: u64) -> Option<[u8; 32]> {
        self.leaves.get(usize::try_from(index).ok()?).copied()
    }

    /// Adds a leaf.
    pub fn push(&mut self, leaf: [u8; 32]) {
        // Reads only hashes already stored: cannot fail for a tree built by `push`.
        if let Ok(new) = stored_hashes(self.size(), &leaf, self) {
            self.hashes.extend(new);
            self.leaves.push(leaf);
        }
    }

    /// Drops every leaf from `size` on: what a transaction that failed had added.
    pub fn truncate(&mut self, size: u64) {
        if size < self.size() {
            self.leaves.truncate(size as usize);
            self.hashes.truncate(stored_hash_index(0, size) as usize);
        }
    }

    /// The root of the tree's first `size` leaves (RFC 9162 `MTH`).
    pub fn root(&self, size: u64) -> Result<[u8; 32], String> {
        if size > self.size() {
            return Err(bounds(&format!("no root at size {size}"), self.size()));
        }
        tree_hash(size, self)
            .map(|hash| hash.0)
            .map_err(|e| e.to_string())
    }

    /// The root the tree would have with one leaf more, without adding it.
    pub fn root_with(&self, leaf: [u8; 32]) -> Result<[u8; 32], String> {
        let extra = stored_hashes(self.size(), &leaf, self).map_err(|e| e.to_string())?;
        let extended = Extended {
            base: &self.hashes,
            extra: &extra,
        };
        tree_hash(self.size() + 1, &extended)
            .map(|hash| hash.0)
            .map_err(|e| e.to_string())
    }

    /// The inclusion proof of leaf `index` (from 0) in the tree of `size` leaves (RFC 9162
    /// `PATH(index, D[size])`).
    pub fn inclusion(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, String> {
        if index >= size || size > self.size() {
            return Err(bounds(
                &format!("no entry {} in a log of {size}", index + 1),
                self.size(),
            ));
        }
        prove_record(size, index, self)
            .map(|proof| proof.into_iter().map(|h| h.0).collect())
            .map_err(|e| e.to_string())
    }

    /// The consistency proof from the tree of `from` leaves to the one of `to` (RFC 9162
    /// `PROOF(from, D[to])`).
    pub fn consistency(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, String> {
        if from > to || to > self.size() {
            return Err(bounds(
                &format!("no consistency proof from {from} to {to}"),
                self.size(),
            ));
        }
        prove_tree(to, from, self)
            .map(|proof| proof.into_iter().map(|h| h.0).collect())
            .map_err(|e| e.to_string())
    }

    /// The hash tile at `level`, `index`, `width` hashes wide (`width` of 256 for a full
    /// tile), as `c2sp.org/tlog-tiles` serves it: concatenated hashes.
    pub fn tile(&self, level: u8, index: u64, width: u64) -> Result<Vec<u8>, String> {
        let width32 = u32::try_from(width)
            .ok()
            .filter(|w| (1..=TILE_WIDTH as u32).contains(w))
            .ok_or_else(|| format!("a tile is 1 to {TILE_WIDTH} hashes wide, not {width}"))?;
        // The hashes at `level` of the tree: one for every 256^level leaves.
        let shift = u32::from(level) * u32::from(TILE_HEIGHT);
        let available = if shift >= 64 { 0 } else { self.size() >> shift };
        let inside = index
            .checked_mul(TILE_WIDTH)
            .and_then(|start| start.checked_add(width))
            .is_some_and(|end| end <= available);
        if !inside {
            return Err(bounds(
                &format!("no tile {level}/{index} of width {width}"),
                self.size(),
            ));
        }
        Tile::new(TILE_HEIGHT, level, index, width32, false)
            .read_data(self)
            .map_err(|e| e.to_string())
    }

    /// The entry bundle `index`, `width` entries wide: each entry (its 32-byte chain hash)
    /// after its length as two big-endian bytes, as `c2sp.org/tlog-tiles` serves entries.
    pub fn entry_bundle(&self, index: u64, width: u64) -> Result<Vec<u8>, String> {
        let start = index.checked_mul(TILE_WIDTH);
        let range = start
            .and_then(|start| Some((start, start.checked_add(width)?)))
            .filter(|(_, end)| (1..=TILE_WIDTH).contains(&width) && *end <= self.size())
            .ok_or_else(|| {
                bounds(
                    &format!("no entry bundle {index} of width {width}"),
                    self.size(),
                )
            })?;
        let mut bundle = Vec::with_capacity(width as usize * 34);
        for leaf in &self.leaves[range.0 as usize..range.1 as usize] {
            bundle.extend_from_slice(&32u16.to_be_bytes());
            bundle.extend_from_slice(leaf);
        }
        Ok(bundle)
    }
}

/// Checks that `proof` proves leaf `leaf` (an entry's chain hash) is leaf `index` (from 0)
/// of the tree of `size` leaves with root `root`.
pub fn check_inclusion(
    proof: &[[u8; 32]],
    size: u64,
    root: [u8; 32],
    index: u64,
    leaf: [u8; 32],
) -> Result<(), String> {
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_record(
        &proof,
        size,
        Hash(root),
        index,
        tlog_tiles::record_hash(&leaf),
    )
    .map_err(|e| {
        format!(
            "entry {} is not in the log of {size} entries: {e}",
            index + 1
        )
    })
}

/// Checks that `proof` proves the tree of `new_size` leaves with root `new_root` extends
/// the one of `old_size` with root `old_root`.
pub fn check_consistency(
    proof: &[[u8; 32]],
    old_size: u64,
    old_root: [u8; 32],
    new_size: u64,
    new_root: [u8; 32],
) -> Result<(), String> {
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    tlog_tiles::check_tree(&proof, new_size, Hash(new_root), old_size, Hash(old_root)).map_err(
        |e| {
            format!(
                "the log of {new_size} entries does not extend the one of {old_size} entries ({e}): it was rewritten"
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::{check_consistency, check_inclusion, LogTree};

    /// The tree of RFC 9162's hashing, computed the slow way, to compare with.
    fn reference_root(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => Sha256::digest(b"").into(),
            1 => {
                let mut h = Sha256::new();
                h.update([0]);
                h.update(leaves[0]);
                h.finalize().into()
            }
            n => {
                let k = n.next_power_of_two() / 2;
                let mut h = Sha256::new();
                h.update([1]);
                h.update(reference_root(&leaves[..k]));
                h.update(reference_root(&leaves[k..]));
                h.finalize().into()
            }
        }
    }

    fn leaves(n: u8) -> Vec<[u8; 32]> {
        (0..n).map(|i| Sha256::digest([i]).into()).collect()
    }

    #[test]
    fn roots_and_proofs_at_every_size_agree_with_rfc_9162() {
        let all = leaves(70);
        let mut tree = LogTree::default();
        for leaf in &all {
            let before = tree.root_with(*leaf).unwrap();
            tree.push(*leaf);
            assert_eq!(tree.root(tree.size()).unwrap(), before);
        }
        for size in 0..=70u64 {
            let root = tree.root(size).unwrap();
            assert_eq!(root, reference_root(&all[..size as usize]), "size {size}");
            for index in 0..size {
                let proof = tree.inclusion(index, size).unwrap();
                check_inclusion(&proof, size, root, index, all[index as usize]).unwrap();
                assert!(check_inclusion(&proof, size, root, index, [9; 32]).is_err());
            }
            for from in 1..=size {
                let proof = tree.consistency(from, size).unwrap();
                let old = tree.root(from).unwrap();
                check_consistency(&proof, from, old, size, root).unwrap();
                if from < size {
                    assert!(check_consistency(&proof, from, [7; 32], size, root).is_err());
                }
            }
        }
        let mut cut = tree.clone();
        cut.truncate(33);
        assert_eq!(cut.root(33).unwrap(), tree.root(33).unwrap());
        cut.push(all[33]);
        assert_eq!(cut.root(34).unwrap(), tree.root(34).unwrap());
    }

    /// RFC 6962's test leaves and the roots of their first 1 to 8 (the vectors of
    /// Certificate Transparency's Merkle tree tests, which Go's `sumdb/tlog` is checked
    /// against), with their published inclusion and consistency proofs.
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn hash(text: &str) -> [u8; 32] {
        hex::decode(text).unwrap().try_into().unwrap()
    }

    struct Stored(Vec<tlog_tiles::Hash>);

    impl tlog_tiles::HashReader for Stored {
        fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
            Ok(indexes.iter().map(|&i| self.0[i as usize]).collect())
        }
    }

    #[test]
    fn the_rfc_6962_test_vectors_hold() {
        let mut stored = Stored(Vec::new());
        for (n, leaf) in LEAVES.iter().enumerate() {
            let new =
                tlog_tiles::stored_hashes(n as u64, &hex::decode(leaf).unwrap(), &stored).unwrap();
            stored.0.extend(new);
            let root = tlog_tiles::tree_hash(n as u64 + 1, &stored).unwrap();
            assert_eq!(hex::encode(root.0), ROOTS[n], "root of {}", n + 1);
        }
        let proof: Vec<String> = tlog_tiles::prove_record(8, 5, &stored)
            .unwrap()
            .iter()
            .map(|h| hex::encode(h.0))
            .collect();
        assert_eq!(
            proof,
            [
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ]
        );
        let six_to_eight = [
            hash("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            hash("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            hash("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ];
        check_consistency(&six_to_eight, 6, hash(ROOTS[5]), 8, hash(ROOTS[7])).unwrap();
        assert!(check_consistency(&six_to_eight, 6, hash(ROOTS[4]), 8, hash(ROOTS[7])).is_err());
        let two_to_five = [
            hash("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            hash("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ];
        check_consistency(&two_to_five, 2, hash(ROOTS[1]), 5, hash(ROOTS[4])).unwrap();
        let made: Vec<[u8; 32]> = tlog_tiles::prove_tree(8, 6, &stored)
            .unwrap()
            .iter()
            .map(|h| h.0)
            .collect();
        assert_eq!(made, six_to_eight);
    }

    #[test]
    fn tiles_are_slices_of_the_stored_hashes() {
        let all: Vec<[u8; 32]> = (0..600u32)
            .map(|i| Sha256::digest(i.to_be_bytes()).into())
            .collect();
        let mut tree = LogTree::default();
        for leaf in &all {
            tree.push(*leaf);
        }
        let full = tree.tile(0, 0, 256).unwrap();
        assert_eq!(full.len(), 256 * 32);
        let partial = tree.tile(0, 2, 88).unwrap();
        assert_eq!(partial.len(), 88 * 32);
        assert!(tree.tile(0, 2, 89).is_err(), "past the tree");
        // A level-1 hash is the root of 256 leaves.
        let level1 = tree.tile(1, 0, 2).unwrap();
        assert_eq!(level1[..32], reference_root(&all[..256]));
        assert_eq!(level1[32..], reference_root(&all[256..512]));
        assert!(tree.tile(1, 0, 3).is_err());
        let bundle = tree.entry_bundle(2, 88).unwrap();
        assert_eq!(bundle.len(), 88 * 34);
        assert_eq!(bundle[2..34], all[512]);
    }
}
