//! Transparency-log proofs checked offline: the RFC 6962/9162 Merkle inclusion proof of a
//! Rekor entry, and the signed checkpoint (a c2sp.org signed note in the
//! tlog-checkpoint format) whose root hash the proof must reach.
//!
//! A Rekor v1 checkpoint is verified the way Rekor v1 clients do (rekor `VerifyCheckpointSignature`
//! via sigstore-go `VerifyInclusion`): the signature line's 4-byte key hint is the first
//! four bytes of SHA-256 of the log key's DER SubjectPublicKeyInfo, and the signature
//! covers the note text (every line before the blank line, each ending in `\n`). The
//! checkpoint's root hash and tree size must equal those of the inclusion proof. A Rekor
//! v2 checkpoint is a c2sp signed note: origin and signer name are the log's origin, the
//! key hint is the log ID's first four bytes (sigstore-go `VerifyLogEntryWithHash`).
//! Everything here is untrusted input until [`verify_inclusion`] returns `Ok`.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::sha::Sha256;
use openssl::sign::Verifier;

use super::crypto::PublicKey;
use super::error::RekorRejection;

/// RFC 6962 leaf hash: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&[0]);
    h.update(entry);
    h.finish()
}

fn node_hash(left: &[u8], right: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(&[1]);
    h.update(left);
    h.update(right);
    h.finish()
}

/// The root an inclusion proof reaches (RFC 9162 section 2.1.3.2), or `None` when the
/// proof's shape does not fit `index` in a tree of `size` leaves.
pub fn root_from_inclusion_proof(index: u64, size: u64, leaf: [u8; 32], proof: &[[u8; 32]]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if sn == 0 {
            return None;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(r)
}

/// A checkpoint's body, parsed but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UntrustedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root_hash: Vec<u8>,
    /// The signed text: every line up to the blank line, each with its `\n`.
    text: String,
    /// (name, key hint, signature) per signature line.
    signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

fn bad_checkpoint(why: &str) -> RekorRejection {
    RekorRejection::Checkpoint(why.to_owned())
}

/// Parses a signed note holding a tlog checkpoint.
pub fn parse_checkpoint(envelope: &str) -> Result<UntrustedCheckpoint, RekorRejection> {
    let (text, sigs) = envelope.split_once("\n\n").ok_or_else(|| bad_checkpoint("no blank line before signatures"))?;
    let mut lines = text.split('\n');
    let origin = lines.next().filter(|l| !l.is_empty()).ok_or_else(|| bad_checkpoint("no origin line"))?;
    let size = lines.next().and_then(|l| l.parse::<u64>().ok()).ok_or_else(|| bad_checkpoint("no tree size line"))?;
    let root_hash = lines
        .next()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(|| bad_checkpoint("no 32-byte base64 root hash line"))?;
    let sigs = sigs.strip_suffix('\n').ok_or_else(|| bad_checkpoint("signatures do not end in a newline"))?;
    let mut signatures = Vec::new();
    for line in sigs.split('\n') {
        let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| bad_checkpoint("signature line without '— '"))?;
        let (name, b64) = rest.rsplit_once(' ').ok_or_else(|| bad_checkpoint("signature line without a name"))?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .filter(|r| r.len() > 4)
            .ok_or_else(|| bad_checkpoint("signature is not base64 of a key hint and a signature"))?;
        let hint: [u8; 4] = raw[..4].try_into().expect("length checked");
        signatures.push((name.to_owned(), hint, raw[4..].to_vec()));
    }
    Ok(UntrustedCheckpoint { origin: origin.to_owned(), size, root_hash, text: format!("{text}\n"), signatures })
}

/// Who must have signed a checkpoint.
#[derive(Debug, Clone, Copy)]
pub enum NoteSigner<'a> {
    /// Rekor v1: key hint = SHA-256(DER SPKI)[..4]; the signature line's name is not checked.
    RekorV1(&'a PublicKey),
    /// Rekor v2 (c2sp signed note): the origin line and the signature's name are the log's
    /// origin (its `baseUrl` host), the key hint is the first four bytes of its log ID.
    RekorV2 { key: &'a PublicKey, origin: &'a str, log_id: &'a [u8] },
}

impl UntrustedCheckpoint {
    /// Verifies that the log's key signed this checkpoint. Other signatures (witness
    /// cosignatures) are ignored.
    pub fn verify(&self, signer: NoteSigner<'_>) -> Result<(), RekorRejection> {
        let (key, hint, name) = match signer {
            NoteSigner::RekorV1(key) => {
                let mut h = Sha256::new();
                h.update(&key.spki_der());
                (key, h.finish()[..4].to_vec(), None)
            }
            NoteSigner::RekorV2 { key, origin, log_id } => {
                if self.origin != origin {
                    return Err(bad_checkpoint("origin line is not the log's origin"));
                }
                (key, log_id.iter().take(4).copied().collect(), Some(origin))
            }
        };
        let mut candidates =
            self.signatures.iter().filter(|(n, hn, _)| hn[..] == hint[..] && name.is_none_or(|o| n == o)).peekable();
        if candidates.peek().is_none() {
            return Err(bad_checkpoint("no signature by the log's key (name and key hint)"));
        }
        let ok = candidates.any(|(_, _, sig)| {
            let r = if key.0.id() == openssl::pkey::Id::ED25519 {
                Verifier::new_without_digest(&key.0).and_then(|mut v| v.verify_oneshot(sig, self.text.as_bytes()))
            } else {
                Verifier::new(MessageDigest::sha256(), &key.0)
                    .and_then(|mut v| v.verify_oneshot(sig, self.text.as_bytes()))
            };
            r.unwrap_or(false)
        });
        let _ = openssl::error::ErrorStack::get();
        if ok {
            Ok(())
        } else {
            Err(bad_checkpoint("signature does not verify with the log's key"))
        }
    }
}

/// An inclusion proof as a bundle carries it (decoded, not yet verified).
#[derive(Debug, Clone)]
pub struct UntrustedInclusionProof<'a> {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: Vec<u8>,
    pub hashes: Vec<[u8; 32]>,
    /// `None` when the bundle carries none: refused after the audit path is checked.
    pub checkpoint: Option<&'a str>,
}

/// Verifies that `entry` (the canonicalized body bytes) is in the log: the proof reaches
/// its root hash, the checkpoint signed by the log names the same root hash and size.
pub fn verify_inclusion(
    entry: &[u8],
    proof: &UntrustedInclusionProof<'_>,
    signer: NoteSigner<'_>,
) -> Result<(), RekorRejection> {
    let root = root_from_inclusion_proof(proof.log_index, proof.tree_size, leaf_hash(entry), &proof.hashes)
        .ok_or(RekorRejection::InclusionProof("the audit path does not fit the index and tree size"))?;
    if root[..] != proof.root_hash[..] {
        return Err(RekorRejection::InclusionProof("the audit path does not reach the proof's root hash"));
    }
    let cp = parse_checkpoint(proof.checkpoint.ok_or_else(|| bad_checkpoint("the inclusion proof has none"))?)?;
    cp.verify(signer)?;
    if cp.root_hash != proof.root_hash || cp.size != proof.tree_size {
        return Err(bad_checkpoint("root hash or tree size differs from the inclusion proof's"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> [u8; 32] {
        leaf_hash(&[n])
    }

    /// The RFC 6962 root of leaves `0..n` computed directly, to check proofs against.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    fn path(leaves: &[[u8; 32]], m: usize) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return vec![];
        }
        let k = leaves.len().next_power_of_two() / 2;
        if m < k {
            let mut p = path(&leaves[..k], m);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(&leaves[k..], m - k);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    #[test]
    fn every_proof_of_small_trees_reaches_the_root_and_tampering_does_not() {
        for n in 1..=9u8 {
            let leaves: Vec<_> = (0..n).map(h).collect();
            let root = mth(&leaves);
            for m in 0..n as usize {
                let p = path(&leaves, m);
                assert_eq!(root_from_inclusion_proof(m as u64, n as u64, leaves[m], &p), Some(root), "{m} of {n}");
                if !p.is_empty() {
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert_ne!(root_from_inclusion_proof(m as u64, n as u64, leaves[m], &bad), Some(root));
                }
                assert_ne!(root_from_inclusion_proof(m as u64, n as u64, h(200), &p), Some(root));
                assert_eq!(root_from_inclusion_proof(n as u64, n as u64, leaves[m], &p), None);
            }
        }
    }

    /// The happy-path-v0.3 conformance bundle's entry, proof and checkpoint, with the
    /// production Rekor key: good, then each piece tampered.
    #[test]
    fn real_rekor_proof_and_checkpoint_verify_and_tampering_is_refused() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance");
        let bundle: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("happy-path-v0.3/bundle.sigstore.json")).unwrap()).unwrap();
        let e = &bundle["verificationMaterial"]["tlogEntries"][0];
        let b64 =
            |v: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
        let body = b64(&e["canonicalizedBody"]);
        let p = &e["inclusionProof"];
        let num = |v: &serde_json::Value| v.as_str().unwrap().parse::<u64>().unwrap();
        let envelope = p["checkpoint"]["envelope"].as_str().unwrap().to_owned();
        let proof = UntrustedInclusionProof {
            log_index: num(&p["logIndex"]),
            tree_size: num(&p["treeSize"]),
            root_hash: b64(&p["rootHash"]),
            hashes: p["hashes"].as_array().unwrap().iter().map(|h| b64(h).try_into().unwrap()).collect(),
            checkpoint: Some(&envelope),
        };
        let tr = crate::trust::parse_trusted_root(&std::fs::read(dir.join("production_trusted_root.json")).unwrap())
            .unwrap();
        let key = NoteSigner::RekorV1(&tr.rekor_keys[0]);
        verify_inclusion(&body, &proof, key).unwrap();

        let mut bad_body = body.clone();
        bad_body[20] ^= 1;
        assert!(matches!(verify_inclusion(&bad_body, &proof, key), Err(RekorRejection::InclusionProof(_))));
        let mut bad = proof.clone();
        bad.hashes[3][0] ^= 1;
        assert!(matches!(verify_inclusion(&body, &bad, key), Err(RekorRejection::InclusionProof(_))));
        let mut bad = proof.clone();
        bad.log_index += 1;
        assert!(matches!(verify_inclusion(&body, &bad, key), Err(RekorRejection::InclusionProof(_))));
        // The checkpoint signed over another size: the signature no longer verifies.
        let forged = envelope.replacen(&format!("\n{}\n", proof.tree_size), &format!("\n{}\n", proof.tree_size + 1), 1);
        let bad = UntrustedInclusionProof { checkpoint: Some(&forged), ..proof.clone() };
        assert!(matches!(verify_inclusion(&body, &bad, key), Err(RekorRejection::Checkpoint(_))));
        // Another log's key: no signature carries its key hint.
        assert!(matches!(
            verify_inclusion(&body, &proof, NoteSigner::RekorV1(&tr.rekor_keys[1])),
            Err(RekorRejection::Checkpoint(_))
        ));
    }

    #[test]
    fn checkpoint_parses_and_rejects_malformed_notes() {
        let good = "log - 1\n5\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\u{2014} log AAAAAAAA\n";
        let cp = parse_checkpoint(good).unwrap();
        assert_eq!((cp.origin.as_str(), cp.size, cp.root_hash.len()), ("log - 1", 5, 32));
        assert_eq!(cp.text, "log - 1\n5\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n");
        for bad in [
            "log - 1\n5\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\u{2014} log AAAAAAAA\n",
            "log - 1\nfive\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\u{2014} log AAAAAAAA\n",
            "log - 1\n5\nAAAA\n\n\u{2014} log AAAAAAAA\n",
            "log - 1\n5\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n- log AAAAAAAA\n",
        ] {
            assert!(matches!(parse_checkpoint(bad), Err(RekorRejection::Checkpoint(_))), "{bad:?}");
        }
    }
}
