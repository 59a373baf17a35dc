//! The append-only spool: where rows wait while the database is unreachable.
//!
//! # Format
//!
//! A sequence of records, each `len: u32 LE | crc32: u32 LE | payload`, the
//! payload being the JSON of one [`PredictionRecord`] and the CRC-32 (IEEE)
//! covering the payload. No file header: an empty file is an empty spool.
//!
//! # Durability (fsync policy)
//!
//! Every [`Spool::append`] writes a whole batch with one `write` and then
//! calls `fdatasync` before returning, so a batch the writer reports as
//! spooled survives a crash of the process *and* of the machine. The
//! window of loss on power failure is therefore the rows still in memory
//! (the bounded channel plus the batch being written), never spooled ones.
//! One sync per batch, not per row, keeps the spool as fast as the batches
//! are large: under an outage at high load, batches grow and syncs stay few.
//!
//! # Torn and corrupt records
//!
//! A crash during `write` can leave a partial record at the tail. On open,
//! the file is scanned from the start; the first record whose header is
//! incomplete, whose length is implausible, or whose CRC does not match ends
//! the valid prefix: the file is truncated there and the discarded bytes are
//! reported ([`Spool::corrupt_bytes`]). Nothing after a bad record is
//! trusted, because a corrupt length makes resynchronising guesswork.
//!
//! # Replay and truncation
//!
//! Replay reads records in order from a read offset kept in memory, inserts
//! them, and advances the offset only after the database committed them.
//! Once the offset reaches the end the file is truncated to zero. A crash
//! mid-replay replays the whole file again at the next start; the database
//! ignores rows it already has (`ON CONFLICT DO NOTHING` on the request id),
//! so replay is idempotent.
//!
//! # Size limit
//!
//! The file never grows beyond `max_bytes`: rows that do not fit are
//! **dropped, newest first** (the rows being appended), and counted. Older
//! rows already on disk are kept — they are the ones closest to being lost
//! for good, and keeping the file append-only keeps it crash-safe.
//!
//! The file is locked exclusively while open: two processes never share
//! one spool. Workers sharing a data directory each take the first free
//! slot (`predictions.spool`, `predictions.1.spool`, …; see
//! `LogConfig::spool_slots`), and a restarted worker replays what its slot
//! holds.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{LogError, Result};
use crate::record::PredictionRecord;

const HEADER: usize = 8;
/// No legitimate record comes near this; a larger length is corruption.
const MAX_RECORD: u32 = 64 << 20;

/// The spool file.
pub struct Spool {
    path: PathBuf,
    file: File,
    read_off: u64,
    write_off: u64,
    max_bytes: u64,
    corrupt_bytes: u64,
}

/// What [`Spool::append`] did with a batch.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub written: usize,
    pub dropped: usize,
}

impl Spool {
    /// Opens (creating) the spool at `path`, validating every record and
    /// truncating a torn or corrupt tail.
    pub fn open(path: &Path, max_bytes: u64) -> Result<Spool> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| LogError::io(format!("creating {}", dir.display()), e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| LogError::io(format!("opening spool {}", path.display()), e))?;
        file.try_lock()
            .map_err(|_| LogError::SpoolLocked(path.to_owned()))?;
        let len = file
            .metadata()
            .map_err(|e| LogError::io("spool metadata", e))?
            .len();
        let mut spool = Spool {
            path: path.to_owned(),
            file,
            read_off: 0,
            write_off: len,
            max_bytes,
            corrupt_bytes: 0,
        };
        let valid = spool.scan()?;
        if valid < len {
            tracing::error!(
                spool = %path.display(),
                valid_bytes = valid,
                discarded_bytes = len - valid,
                "spool has a torn or corrupt tail; truncating it"
            );
            spool.corrupt_bytes = len - valid;
            spool.truncate_to(valid)?;
        }
        Ok(spool)
    }

    /// Length of the valid prefix.
    fn scan(&self) -> Result<u64> {
        let mut off = 0;
        while let Some((_, next)) = self.read_at(off)? {
            off = next;
        }
        Ok(off)
    }

    /// The record at `off` and the offset after it; `None` at the end or at
    /// the first invalid record.
    fn read_at(&self, off: u64) -> Result<Option<(Vec<u8>, u64)>> {
        if off + HEADER as u64 > self.write_off {
            return Ok(None);
        }
        let mut header = [0u8; HEADER];
        self.file
            .read_exact_at(&mut header, off)
            .map_err(|e| LogError::io("reading spool", e))?;
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let end = off + HEADER as u64 + u64::from(len);
        if len > MAX_RECORD || end > self.write_off {
            return Ok(None);
        }
        let mut payload = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut payload, off + HEADER as u64)
            .map_err(|e| LogError::io("reading spool", e))?;
        if crc32fast::hash(&payload) != crc {
            return Ok(None);
        }
        Ok(Some((payload, end)))
    }

    fn truncate_to(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| LogError::io("truncating spool", e))?;
        self.write_off = len;
        self.read_off = self.read_off.min(len);
        Ok(())
    }

    /// Appends `records` in order and syncs. Records beyond `max_bytes`
    /// are dropped (see the module docs) and counted in the result.
    pub fn append(&mut self, records: &[PredictionRecord]) -> Result<Appended> {
        let mut buf = Vec::with_capacity(records.len() * 256);
        let mut out = Appended::default();
        for r in records {
            let payload = serde_json::to_vec(r).map_err(|e| LogError::Encoding(e.to_string()))?;
            let need = (HEADER + payload.len()) as u64;
            if self.write_off + buf.len() as u64 + need > self.max_bytes {
                out.dropped += 1;
                continue;
            }
            buf.extend_from_slice(
                &u32::try_from(payload.len())
                    .unwrap_or(u32::MAX)
                    .to_le_bytes(),
            );
            buf.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            buf.extend_from_slice(&payload);
            out.written += 1;
        }
        if buf.is_empty() {
            return Ok(out);
        }
        let res = self
            .file
            .write_all_at(&buf, self.write_off)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = res {
            // Leave no half-written batch behind: the next open would cut
            // it anyway, but later appends must not land after garbage.
            let _ = self.file.set_len(self.write_off);
            return Err(LogError::io(
                format!("appending to spool {}", self.path.display()),
                e,
            ));
        }
        self.write_off += buf.len() as u64;
        Ok(out)
    }

    /// Up to `max` records from the read offset, and the offset after them
    /// (pass it to [`Spool::consume`] once they are stored). A corrupt
    /// record met here (the file was damaged while open) ends the spool
    /// there, like at open.
    pub fn peek(&mut self, max: usize) -> Result<(Vec<PredictionRecord>, u64)> {
        let mut out = Vec::new();
        let mut off = self.read_off;
        while out.len() < max {
            match self.read_at(off)? {
                Some((payload, next)) => match serde_json::from_slice(&payload) {
                    Ok(r) => {
                        out.push(r);
                        off = next;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, offset = off, "undecodable spool record; truncating");
                        self.corrupt_bytes += self.write_off - off;
                        self.truncate_to(off)?;
                        break;
                    }
                },
                None => {
                    if off < self.write_off {
                        tracing::error!(offset = off, "corrupt spool record; truncating");
                        self.corrupt_bytes += self.write_off - off;
                        self.truncate_to(off)?;
                    }
                    break;
                }
            }
        }
        Ok((out, off))
    }

    /// Marks everything before `off` as stored; truncates the file once all
    /// of it is.
    pub fn consume(&mut self, off: u64) -> Result<()> {
        self.read_off = off.min(self.write_off);
        if self.read_off == self.write_off && self.write_off > 0 {
            self.read_off = 0;
            self.truncate_to(0)?;
        }
        Ok(())
    }

    /// Bytes not yet replayed.
    pub fn pending_bytes(&self) -> u64 {
        self.write_off - self.read_off
    }

    /// Size of the file (replayed prefix included until truncation).
    pub fn file_bytes(&self) -> u64 {
        self.write_off
    }

    /// Bytes discarded as torn or corrupt since open.
    pub fn corrupt_bytes(&self) -> u64 {
        self.corrupt_bytes
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::CacheTier;
    use std::time::Duration;

    fn rec(i: u32) -> PredictionRecord {
        PredictionRecord::new(
            format!("req-{i}"),
            0,
            "spam",
            "1",
            "ham",
            vec![],
            Duration::from_micros(u64::from(i)),
            CacheTier::Miss,
            None,
            "some text",
        )
    }

    #[test]
    fn append_peek_consume_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let mut s = Spool::open(&p, u64::MAX).unwrap();
        let recs: Vec<_> = (0..10).map(rec).collect();
        assert_eq!(s.append(&recs[..6]).unwrap().written, 6);
        assert_eq!(s.append(&recs[6..]).unwrap().written, 4);
        let (a, off) = s.peek(4).unwrap();
        assert_eq!(a, recs[..4]);
        s.consume(off).unwrap();
        let (b, off) = s.peek(100).unwrap();
        assert_eq!(b, recs[4..]);
        assert!(s.pending_bytes() > 0);
        s.consume(off).unwrap();
        assert_eq!(s.pending_bytes(), 0);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
    }

    #[test]
    fn reopen_keeps_records() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let recs: Vec<_> = (0..5).map(rec).collect();
        {
            let mut s = Spool::open(&p, u64::MAX).unwrap();
            s.append(&recs).unwrap();
        }
        let mut s = Spool::open(&p, u64::MAX).unwrap();
        assert_eq!(s.corrupt_bytes(), 0);
        assert_eq!(s.peek(100).unwrap().0, recs);
    }

    #[test]
    fn truncated_tail_is_cut_at_last_good_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let recs: Vec<_> = (0..5).map(rec).collect();
        {
            let mut s = Spool::open(&p, u64::MAX).unwrap();
            s.append(&recs).unwrap();
        }
        let full = std::fs::metadata(&p).unwrap().len();
        // Cut the last record in half, at every possible point of it.
        for cut in 1..40u64 {
            let f = OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len(full - cut).unwrap();
            drop(f);
            let mut s = Spool::open(&p, u64::MAX).unwrap();
            assert!(s.corrupt_bytes() > 0, "cut {cut}");
            assert_eq!(s.peek(100).unwrap().0, recs[..4], "cut {cut}");
            // Appending after recovery lands after the valid prefix.
            s.append(&recs[4..]).unwrap();
            drop(s);
            let mut s = Spool::open(&p, u64::MAX).unwrap();
            assert_eq!(s.corrupt_bytes(), 0);
            assert_eq!(s.peek(100).unwrap().0, recs);
        }
    }

    #[test]
    fn flipped_byte_fails_crc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let recs: Vec<_> = (0..3).map(rec).collect();
        let first_len;
        {
            let mut s = Spool::open(&p, u64::MAX).unwrap();
            s.append(&recs[..1]).unwrap();
            first_len = s.file_bytes();
            s.append(&recs[1..]).unwrap();
        }
        let mut bytes = std::fs::read(&p).unwrap();
        let i = first_len as usize + HEADER + 3;
        bytes[i] ^= 0x20;
        std::fs::write(&p, &bytes).unwrap();
        let mut s = Spool::open(&p, u64::MAX).unwrap();
        assert_eq!(s.peek(100).unwrap().0, recs[..1]);
        assert_eq!(s.corrupt_bytes(), bytes.len() as u64 - first_len);
    }

    #[test]
    fn max_bytes_drops_newest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let one = (HEADER + serde_json::to_vec(&rec(0)).unwrap().len()) as u64;
        let mut s = Spool::open(&p, one * 3 + one / 2).unwrap();
        let recs: Vec<_> = (0..5).map(rec).collect();
        let a = s.append(&recs).unwrap();
        assert_eq!(
            a,
            Appended {
                written: 3,
                dropped: 2
            }
        );
        assert_eq!(s.append(&recs[..1]).unwrap().dropped, 1);
        assert_eq!(s.peek(100).unwrap().0, recs[..3]);
    }

    #[test]
    fn second_open_is_refused_while_locked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.spool");
        let _a = Spool::open(&p, u64::MAX).unwrap();
        assert!(Spool::open(&p, u64::MAX).is_err());
    }
}
