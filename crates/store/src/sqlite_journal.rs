//! The journal of the SQLite audit log: where the entries of reads are written first (clause
//! 8.1), to be folded into the log ([`crate::sqlite_audit`]) in large transactions.
//!
//! **Why.** Every read appends an entry, and a read must not be answered before its entry is
//! safe from a crash of derbes. Committing each small group of reads' entries to the log cost
//! a SQLite transaction per group — `BEGIN`, the WAL frames of the pages it touched, the
//! WAL-index locks, `COMMIT` — about 30 µs of a read's CPU on the benchmark's machine (run W
//! in docs/benchmarks.md), more than the rest of the audit. Here a read's entry costs one
//! `write(2)` to an append-only file, and the log's thread folds the journal into the log
//! ([`crate::sqlite_audit`]) a thousand entries at a time.
//!
//! **What is safe when.** A `write(2)` that returned is in the kernel: a crash of derbes loses
//! nothing, the next start folds what the journal holds into the log before anything else.
//! A flush (`Store::flush_audit`, at most 50 ms after a read) fsyncs the journal's files. The
//! fold commits at `synchronous=FULL` before the file it emptied is cut, so an entry is
//! always durable in one place or the other after a flush. Entries are chained when they are
//! folded, in the order they were journaled; every query of the log folds the journal first,
//! so a query never misses an entry of a read that has been answered.
//!
//! **Files.** Two, `derbes.audit.journal-a` and `-b` beside the log: entries are written to
//! the active one while the other is being folded, so the fold never stops the reads. A
//! record is `[u32 length][u64 number][postcard entry fields]`; the log's table
//! `audit_journal` keeps the number of the first record not yet folded, committed with the
//! fold, so a crash between the fold's commit and cutting the file folds nothing twice. A
//! record cut short by a power failure is the journal's end.
//!
//! **One owner.** The process whose log writer holds the lock on the files (`flock`) uses the
//! journal; another process on the same log (a command run beside the server) appends the
//! usual way, in the log's transactions, which SQLite serialises with the folds.

use crate::{AuditFields, StoreError};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Entries journaled after which the log's thread is asked to fold them (between the
/// flushes, which fold at least every 50 ms under load).
pub(crate) const FOLD_ENTRIES: usize = 1024;

/// The log's table with the number of the first record not yet folded.
pub(crate) const JOURNAL_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS audit_journal (\
    id   INTEGER PRIMARY KEY CHECK (id = 1), \
    upto INTEGER NOT NULL); \
INSERT OR IGNORE INTO audit_journal (id, upto) VALUES (1, 0);";

/// The longest record read back (a record is one append's entries).
const MAX_RECORD: usize = 64 << 20;

/// The journal's two files beside the audit file `audit`.
pub fn journal_files_of(audit: &Path) -> [PathBuf; 2] {
    [
        audit.with_extension("journal-a"),
        audit.with_extension("journal-b"),
    ]
}

fn io_error(what: &str, e: &std::io::Error) -> StoreError {
    // The error's kind only: its text may hold the path.
    StoreError::Audit(format!("{what} the audit journal failed: {}", e.kind()))
}

struct JournalFile {
    file: File,
    len: u64,
    /// The number of the last record in the file.
    last: Option<u64>,
}

/// The journal, owned by the process that holds its lock.
pub(crate) struct Journal {
    files: [JournalFile; 2],
    active: usize,
    /// The records not yet folded (nor taken for a fold), oldest first, as they were
    /// journaled: the fold decodes them on the log's thread, so the fields a read allocated
    /// are freed by that read's thread, and nothing is copied to keep them should a fold fail.
    pending: Vec<u8>,
    /// The entries in `pending`.
    pending_entries: usize,
    /// Whether a fold has taken entries and not yet reported its end.
    folding: bool,
    /// The number of the next record.
    next: u64,
    /// Whether the log's thread has been asked to fold since the last take.
    asked: bool,
    buf: Vec<u8>,
}

/// Records taken for a fold: committed with `audit_journal.upto = upto`.
pub(crate) struct Taken {
    /// The records, as journaled.
    records: Vec<u8>,
    entries: usize,
    pub(crate) upto: u64,
}

impl Taken {
    /// The fields of the records' entries, in order.
    pub(crate) fn fields(&self) -> Result<Vec<AuditFields>, StoreError> {
        let (records, rest) = records(&self.records);
        if rest > 0 {
            // Never: these bytes were encoded by this process, or read back whole at start.
            return Err(StoreError::Audit(
                "an audit journal record taken for a fold does not decode".into(),
            ));
        }
        let mut fields = Vec::with_capacity(self.entries);
        for r in records {
            fields.extend(r.fields);
        }
        Ok(fields)
    }
}

/// One whole record of a journal file.
struct Record<'a> {
    n: u64,
    /// The record's bytes, its length first.
    raw: &'a [u8],
    fields: Vec<AuditFields>,
}

impl Journal {
    /// Open and lock the journal of the audit file `audit` (creating its files), with its
    /// records from number `upto` on (those not yet in the log) pending, in order, to be
    /// folded before anything else. `None` when another holds its lock.
    pub(crate) fn open(audit: &Path, upto: u64) -> Result<Option<Journal>, StoreError> {
        let [a, b] = journal_files_of(audit);
        let open = |path: &Path| {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(path)
                .map_err(|e| io_error("opening", &e))
        };
        let (mut fa, mut fb) = (open(&a)?, open(&b)?);
        for f in [&fa, &fb] {
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error("locking", &e)),
            }
        }
        let read = |file: &mut File| {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| io_error("reading", &e))
                .map(|_| bytes)
        };
        let (bytes_a, bytes_b) = (read(&mut fa)?, read(&mut fb)?);
        let (found_a, found_b) = (parse(&bytes_a), parse(&bytes_b));
        let file = |file, bytes: &[u8], found: &[Record<'_>]| JournalFile {
            file,
            len: bytes.len() as u64,
            last: found.iter().map(|r| r.n).max(),
        };
        let files = [file(fa, &bytes_a, &found_a), file(fb, &bytes_b, &found_b)];
        let mut found: Vec<Record<'_>> = found_a
            .into_iter()
            .chain(found_b)
            .filter(|r| r.n >= upto)
            .collect();
        found.sort_by_key(|r| r.n);
        let after = found.last().map_or(upto, |r| r.n + 1);
        let mut pending = Vec::new();
        for r in &found {
            pending.extend_from_slice(r.raw);
        }
        let mut journal = Journal {
            files,
            active: 0,
            pending,
            pending_entries: found.iter().map(|r| r.fields.len()).sum(),
            folding: false,
            next: after,
            asked: false,
            buf: Vec::new(),
        };
        // Whatever the files hold may be in the log already.
        journal.cut_folded_files();
        Ok(Some(journal))
    }

    /// Journal one append's `fields` (already validated) as one record: one `write(2)`.
    /// Returns whether the log's thread should now be asked to fold.
    pub(crate) fn append(&mut self, fields: &[AuditFields]) -> Result<bool, StoreError> {
        let n = self.next;
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 12]);
        self.buf[4..12].copy_from_slice(&n.to_le_bytes());
        let buf = postcard::to_extend(fields, std::mem::take(&mut self.buf))
            .map_err(|e| StoreError::Audit(format!("cannot journal audit entries: {e}")))?;
        self.buf = buf;
        let len = u32::try_from(self.buf.len() - 4)
            .map_err(|_| StoreError::Audit("an audit append too large to journal".into()))?;
        self.buf[..4].copy_from_slice(&len.to_le_bytes());
        let file = &mut self.files[self.active];
        if let Err(e) = file.file.write_all(&self.buf) {
            // Part of the record may have been written: cut it off, so the next record is read
            // back after the last whole one.
            let _ = file.file.set_len(file.len);
            return Err(io_error("writing", &e));
        }
        file.len += self.buf.len() as u64;
        file.last = Some(n);
        self.next = n + 1;
        self.pending.extend_from_slice(&self.buf);
        self.pending_entries += fields.len();
        let due = self.pending_entries >= FOLD_ENTRIES && !self.asked;
        self.asked |= due;
        Ok(due)
    }

    /// Whether every journaled entry is in the log (none pending, no fold under way).
    pub(crate) fn settled(&self) -> bool {
        self.pending.is_empty() && !self.folding
    }

    /// Take the pending entries for a fold, and write the next records to the other file if
    /// it is empty (else the active one goes on: the other is cut once all of it is folded).
    pub(crate) fn take(&mut self) -> Option<Taken> {
        self.asked = false;
        if self.pending.is_empty() {
            return None;
        }
        let other = 1 - self.active;
        if self.files[other].len == 0 {
            self.active = other;
        }
        self.folding = true;
        Some(Taken {
            records: std::mem::take(&mut self.pending),
            entries: std::mem::take(&mut self.pending_entries),
            upto: self.next,
        })
    }

    /// The fold of `taken` failed: its records are pending again, before the newer ones.
    pub(crate) fn restore(&mut self, mut taken: Taken) {
        taken.records.append(&mut self.pending);
        self.pending = taken.records;
        self.pending_entries += taken.entries;
        self.folding = false;
    }

    /// The records before number `upto` are in the log (committed durably): the files to cut
    /// now, each holding no other record. Cut by [`Cuts::apply`] without the journal's lock
    /// (with the `discard` mount option, cutting a file waits for the device, for milliseconds,
    /// and reads would wait for the lock meanwhile), then reported by [`Journal::cut_done`].
    /// The file being written is not among them: it is cut after a later fold, once the
    /// records go to the other. So no record is written to a file while it is cut: the active
    /// file changes only in [`Journal::take`], to a file already empty.
    pub(crate) fn folded(&mut self, upto: u64) -> Cuts {
        self.folding = false;
        let mut cuts = Cuts(Vec::new());
        for i in 0..2 {
            if i != self.active && self.all_folded(i, upto) {
                match self.files[i].file.try_clone() {
                    Ok(file) => cuts.0.push((i, file)),
                    Err(e) => {
                        let e = io_error("cutting", &e);
                        tracing::warn!(code = e.code(), "cutting the audit journal failed");
                    }
                }
            }
        }
        cuts
    }

    /// Cut every file all of whose records are folded, the one being written too: only while
    /// nothing is journaled (when the journal is opened, and once what it held then is
    /// folded), so that the next records go to an empty file, never after bytes a crash left.
    pub(crate) fn cut_folded_files(&mut self) {
        if !self.settled() {
            return;
        }
        for i in 0..2 {
            if self.all_folded(i, self.next) && self.files.get(i).is_some_and(|f| cut_file(&f.file))
            {
                self.emptied(i);
            }
        }
    }

    /// The files [`Cuts::apply`] has cut are empty.
    pub(crate) fn cut_done(&mut self, done: CutDone) {
        for i in done.0 {
            self.emptied(i);
        }
    }

    /// Whether file `i` holds bytes and no record from number `upto` on (a file holding no
    /// whole record at all holds only bytes that are skipped when read back).
    fn all_folded(&self, i: usize, upto: u64) -> bool {
        self.files.get(i).is_some_and(|f| {
            f.last.is_some_and(|last| last < upto) || (f.last.is_none() && f.len > 0)
        })
    }

    fn emptied(&mut self, i: usize) {
        if let Some(f) = self.files.get_mut(i) {
            f.len = 0;
            f.last = None;
        }
    }

    /// Handles to the two files, for fsyncs without the journal's lock.
    pub(crate) fn sync_handles(&self) -> Result<Vec<File>, StoreError> {
        self.files
            .iter()
            .map(|f| f.file.try_clone().map_err(|e| io_error("opening", &e)))
            .collect()
    }
}

/// The whole records of a journal file; the bytes after the last (a record cut short by a
/// crash of the machine, or bytes that are no record) are skipped with a warning.
fn parse(bytes: &[u8]) -> Vec<Record<'_>> {
    let (found, rest) = records(bytes);
    if rest > 0 {
        tracing::warn!(
            code = "audit_journal_tail",
            bytes = rest,
            "the audit journal ends in bytes that are no whole record; they are skipped"
        );
    }
    found
}

/// The whole records at the start of `bytes`, and how many bytes follow the last of them.
fn records(bytes: &[u8]) -> (Vec<Record<'_>>, usize) {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((head, body)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*head) as usize;
        if !(8..=MAX_RECORD).contains(&len) || body.len() < len {
            break;
        }
        let (record, after) = body.split_at(len);
        let Some((n, fields)) = record.split_first_chunk::<8>() else {
            break;
        };
        let Ok(fields) = postcard::from_bytes::<Vec<AuditFields>>(fields) else {
            break;
        };
        let (raw, _) = rest.split_at(4 + len);
        out.push(Record {
            n: u64::from_le_bytes(*n),
            raw,
            fields,
        });
        rest = after;
    }
    (out, rest.len())
}

/// Journal files to cut, with their own handles ([`Journal::folded`]).
#[must_use = "the files are cut by `apply`"]
pub(crate) struct Cuts(Vec<(usize, File)>);

/// The files cut ([`Cuts::apply`]), for [`Journal::cut_done`].
pub(crate) struct CutDone(Vec<usize>);

impl Cuts {
    /// Whether there is nothing to cut.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Cut the files (a file not cut is cut after a later fold: its records are skipped
    /// when read back meanwhile, by `audit_journal.upto`).
    pub(crate) fn apply(self) -> CutDone {
        CutDone(
            self.0
                .into_iter()
                .filter(|(_, file)| cut_file(file))
                .map(|(i, _)| i)
                .collect(),
        )
    }
}

/// Empty `file`; a failure is logged (no path in it).
fn cut_file(file: &File) -> bool {
    match file.set_len(0) {
        Ok(()) => true,
        Err(e) => {
            let e = io_error("cutting", &e);
            tracing::warn!(code = e.code(), "cutting the audit journal failed");
            false
        }
    }
}

/// fsync each of `files`.
pub(crate) fn sync_all(files: &[File]) -> Result<(), StoreError> {
    for f in files {
        f.sync_data().map_err(|e| io_error("syncing", &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use derbes_audit::{Action, Outcome};

    fn fields(i: u64) -> AuditFields {
        AuditFields {
            at: i64::try_from(i).unwrap(),
            actor: format!("employee:{i}"),
            action: Action::READ,
            subject: Some(format!("sp_{i}")),
            purpose: Some("contract".into()),
            categories: vec!["iin".into()],
            rule: Some("r".into()),
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    /// 8.1: what was journaled is read back in order from the record asked for on, across
    /// both files, and a record cut short at the end (a power failure) is the end.
    #[test]
    fn c8_1_journal_reads_back_its_records_in_order_and_stops_at_a_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("d.audit.db");
        let mut j = Journal::open(&audit, 0).unwrap().unwrap();
        j.append(&[fields(0), fields(1)]).unwrap();
        j.append(&[fields(2)]).unwrap();
        let taken = j.take().unwrap();
        assert_eq!(taken.fields().unwrap().len(), 3);
        assert_eq!(taken.upto, 2);
        j.append(&[fields(3)]).unwrap();
        j.append(&[fields(4)]).unwrap();
        drop(j);
        // A torn record at the end of the second file.
        let [_, b] = journal_files_of(&audit);
        let mut f = OpenOptions::new().append(true).open(&b).unwrap();
        f.write_all(&[40, 0, 0, 0, 9, 9]).unwrap();
        drop(f);
        let mut r = Journal::open(&audit, 0).unwrap().unwrap();
        let all = r.take().unwrap();
        assert_eq!(
            all.fields().unwrap(),
            (0..5).map(fields).collect::<Vec<_>>()
        );
        assert_eq!(all.upto, 4);
        drop(r);
        // From record 2 on: the first file's records are already in the log.
        let mut r = Journal::open(&audit, 2).unwrap().unwrap();
        let rest = r.take().unwrap();
        assert_eq!(rest.fields().unwrap(), vec![fields(3), fields(4)]);
        assert_eq!(rest.upto, 4);
        r.append(&[fields(5)]).unwrap();
        drop(r);
        // Everything folded: the files are cut when next opened.
        let r = Journal::open(&audit, 5).unwrap().unwrap();
        assert!(r.settled());
        assert!(r.files.iter().all(|f| f.len == 0));
    }

    /// 8.1: a record damaged in the middle of a file (after a machine crash, a region never
    /// synced may read back as zeros) ends what is read of that file: the records before it
    /// are folded, the bytes from it on are skipped (with a warning, no entry invented), and
    /// once the fold is done the file is cut, so no later record is written after the damage
    /// to be lost at the next start.
    #[test]
    fn c8_1_journal_skips_from_a_damaged_record_and_cuts_the_file_once_folded() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("d.audit.db");
        let mut j = Journal::open(&audit, 0).unwrap().unwrap();
        j.append(&[fields(0)]).unwrap();
        let first = j.files[0].len;
        j.append(&[fields(1)]).unwrap();
        j.append(&[fields(2)]).unwrap();
        drop(j);
        let [a, _] = journal_files_of(&audit);
        let mut bytes = std::fs::read(&a).unwrap();
        let start = usize::try_from(first).unwrap();
        bytes[start..start + 4].fill(0);
        std::fs::write(&a, &bytes).unwrap();

        let mut r = Journal::open(&audit, 0).unwrap().unwrap();
        let taken = r.take().unwrap();
        assert_eq!(taken.fields().unwrap(), vec![fields(0)]);
        assert_eq!(taken.upto, 1);
        let cuts = r.folded(taken.upto);
        r.cut_done(cuts.apply());
        assert!(r.files.iter().all(|f| f.len == 0), "cut after the fold");
        assert_eq!(std::fs::metadata(&a).unwrap().len(), 0);
        r.append(&[fields(7)]).unwrap();
        drop(r);
        let mut r = Journal::open(&audit, 1).unwrap().unwrap();
        assert_eq!(r.take().unwrap().fields().unwrap(), vec![fields(7)]);
    }

    /// 8.1: a file is cut only once every record in it is folded, and the journal's lock keeps
    /// a second owner out.
    #[test]
    fn c8_1_journal_cuts_only_folded_files_and_has_one_owner() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("d.audit.db");
        let mut j = Journal::open(&audit, 0).unwrap().unwrap();
        assert!(Journal::open(&audit, 0).unwrap().is_none(), "one owner");
        j.append(&[fields(0)]).unwrap();
        let first = j.take().unwrap();
        j.append(&[fields(1)]).unwrap();
        assert!(!j.settled());
        // The fold failed: its entry is pending again, before the newer one.
        j.restore(first);
        let again = j.take().unwrap();
        assert_eq!(again.fields().unwrap(), vec![fields(0), fields(1)]);
        j.append(&[fields(2)]).unwrap();
        let cuts = j.folded(again.upto);
        j.cut_done(cuts.apply());
        let lens: Vec<u64> = j.files.iter().map(|f| f.len).collect();
        // Records 0 and 1 are folded, record 2 is not: exactly one file is cut.
        assert_eq!(lens.iter().filter(|l| **l == 0).count(), 1, "{lens:?}");
        assert!(!j.settled());
        let last = j.take().unwrap();
        let cuts = j.folded(last.upto);
        j.cut_done(cuts.apply());
        assert!(j.settled());
        assert!(j.files.iter().all(|f| f.len == 0));
        drop(j);
        let r = Journal::open(&audit, last.upto).unwrap().unwrap();
        assert!(r.settled());
    }

    /// 8.1: a fold's files are cut without the journal's lock, while reads go on journaling,
    /// so the file being written is never among them: it is cut after a later fold, once
    /// writing has moved to the other file, and no record journaled meanwhile is lost.
    #[test]
    fn c8_1_journal_never_cuts_the_file_being_written() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("d.audit.db");
        let mut j = Journal::open(&audit, 0).unwrap().unwrap();
        j.append(&[fields(0)]).unwrap();
        // Writing moves to the second file, empty.
        let _first = j.take().unwrap();
        j.append(&[fields(1)]).unwrap();
        // The first file is not empty yet: writing stays on the second.
        let second = j.take().unwrap();
        let cuts = j.folded(second.upto);
        // A read journals while the fold's files are being cut.
        j.append(&[fields(2)]).unwrap();
        j.cut_done(cuts.apply());
        assert_eq!(j.files[0].len, 0, "the file no longer written is cut");
        let [_, b] = journal_files_of(&audit);
        let kept = std::fs::read(&b).unwrap();
        let numbers: Vec<u64> = parse(&kept).iter().map(|r| r.n).collect();
        assert_eq!(numbers, vec![1, 2], "the file being written is kept whole");
        // A later fold, once writing has moved back to the first file, cuts the second.
        let third = j.take().unwrap();
        assert_eq!(third.fields().unwrap(), vec![fields(2)]);
        j.append(&[fields(3)]).unwrap();
        let cuts = j.folded(third.upto);
        j.cut_done(cuts.apply());
        assert_eq!(j.files[1].len, 0);
        assert_eq!(std::fs::metadata(&b).unwrap().len(), 0);
        drop(j);
        let mut r = Journal::open(&audit, third.upto).unwrap().unwrap();
        assert_eq!(r.take().unwrap().fields().unwrap(), vec![fields(3)]);
    }

    /// 8.1: the fold is asked for once per [`FOLD_ENTRIES`] pending entries.
    #[test]
    fn c8_1_journal_asks_for_a_fold_once_enough_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("d.audit.db"), 0)
            .unwrap()
            .unwrap();
        let mut asked = 0;
        for i in 0..(2 * FOLD_ENTRIES as u64) {
            asked += usize::from(j.append(&[fields(i)]).unwrap());
        }
        assert_eq!(asked, 1, "asked once until a take");
        j.take().unwrap();
        assert!(!j.append(&[fields(0)]).unwrap());
    }
}
