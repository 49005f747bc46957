//! A bound on tar extension headers, watched from below the tar parser.
//!
//! The tar crate reads a GNU long-name (`L`), long-link (`K`) or PAX (`x`, `g`) entry whole
//! into memory before it hands out the entry it describes, whatever size its header
//! claims: a few KiB of zstd could claim a 100 GiB long name and exhaust memory. This guard
//! sees every byte the parser reads, in order, follows the header positions exactly as the
//! parser does (including a PAX `size` override of the next entry), and fails the read that
//! starts an extension entry larger than [`MAX_EXTENSION`].

use std::io;

use super::BundleError;

/// Long names and PAX records for an allowed name are tiny; 1 MiB is generous.
pub const MAX_EXTENSION: u64 = 1024 * 1024;

const BLOCK: u64 = 512;

pub(crate) struct HeaderGuard {
    /// Bytes seen so far.
    pos: u64,
    /// Where the next header starts (`u64::MAX` once guarding stopped).
    next_header: u64,
    header: Vec<u8>,
    /// Data of a PAX `x` entry being collected, with its size.
    pax: Option<(Vec<u8>, u64)>,
    /// The `size` a preceding PAX entry sets for the next entry.
    pax_size: Option<u64>,
}

impl HeaderGuard {
    pub(crate) fn new() -> Self {
        HeaderGuard { pos: 0, next_header: 0, header: Vec::with_capacity(BLOCK as usize), pax: None, pax_size: None }
    }

    /// Observes the next bytes of the decompressed stream.
    pub(crate) fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.next_header == u64::MAX {
                return Ok(());
            }
            if self.pos < self.next_header {
                // Entry data: skip it, but collect PAX records.
                let n = (self.next_header - self.pos).min(bytes.len() as u64) as usize;
                if let Some((data, size)) = &mut self.pax {
                    let want = (*size as usize).saturating_sub(data.len()).min(n);
                    data.extend_from_slice(&bytes[..want]);
                    if data.len() as u64 == *size {
                        self.pax_size = pax_size(data);
                        self.pax = None;
                    }
                }
                self.pos += n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let n = (BLOCK as usize - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            self.pos += n as u64;
            bytes = &bytes[n..];
            if self.header.len() == BLOCK as usize {
                self.on_header()?;
                self.header.clear();
            }
        }
        Ok(())
    }

    /// The parser seeked forward to `to` instead of reading (a seekable bundle): allowed only
    /// over entry data, up to the next header, so no header goes unobserved.
    pub(crate) fn skip_to(&mut self, to: u64) -> io::Result<()> {
        if self.next_header != u64::MAX && (to < self.pos || to > self.next_header || self.pax.is_some()) {
            return Err(io::Error::other(format!(
                "seek to {to} outside of the entry data before {}",
                self.next_header
            )));
        }
        self.pos = to;
        Ok(())
    }

    fn on_header(&mut self) -> io::Result<()> {
        if self.header.iter().all(|&b| b == 0) {
            // End of archive: what follows is checked by the reader.
            self.next_header = u64::MAX;
            return Ok(());
        }
        let mut h = tar::Header::new_old();
        h.as_mut_bytes().copy_from_slice(&self.header);
        // Not a valid header at all: the parser refuses it (and says so); judging its
        // fields here would only report noise as "too large".
        if !checksum_ok(&h) {
            self.next_header = u64::MAX;
            return Ok(());
        }
        let Ok(mut size) = h.entry_size() else {
            // The parser reports a broken size field itself.
            self.next_header = u64::MAX;
            return Ok(());
        };
        let kind = h.entry_type();
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if extension {
            if size > MAX_EXTENSION {
                let name = format!("tar extension header of type {:?}", kind.as_byte() as char);
                return Err(BundleError::TooLarge { name, size, max: MAX_EXTENSION }.into_io());
            }
            if kind.is_pax_local_extensions() {
                self.pax = (size > 0).then(|| (Vec::with_capacity(size as usize), size));
            }
        } else {
            if kind.is_gnu_sparse() {
                // Extra sparse headers follow; the reader refuses sparse entries anyway.
                self.next_header = u64::MAX;
                return Ok(());
            }
            if let Some(s) = self.pax_size.take() {
                size = s;
            }
        }
        self.next_header = self.pos.saturating_add(size.div_ceil(BLOCK).saturating_mul(BLOCK));
        Ok(())
    }
}

/// The header checksum as the tar crate checks it: the unsigned byte sum with the checksum
/// field counted as spaces.
fn checksum_ok(h: &tar::Header) -> bool {
    let sum: u32 = h
        .as_bytes()
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(b) })
        .sum();
    h.cksum().is_ok_and(|c| c == sum)
}

/// The first `size` record, exactly as the tar crate reads it.
fn pax_size(data: &[u8]) -> Option<u64> {
    for ext in tar::PaxExtensions::new(data) {
        let ext = ext.ok()?;
        if ext.key() != Ok("size") {
            continue;
        }
        return ext.value().ok()?.parse().ok();
    }
    None
}
