#!/usr/bin/env python3
"""What filling the audit log's subject index costs SQLite itself, in the two layouts
(docs/benchmarks.md run Y; crates/store/migrations/sqlite_audit/index.sql).

The log's writer adds entries to the index in batches of 4,096, sorted by key, in one
transaction of a WAL-mode file at synchronous=FULL. With the key (subject, seq) a batch
lands on random pages of the whole index; with (epoch, subject, seq), epoch = seq >> 16,
on the newest epoch's pages only. For a log of each size, the script fills an index to
that size, checkpoints, then times 16 more batches and reads the WAL's growth: bytes of
WAL written per indexed entry, and time per entry (Python's own overhead included, the same
for both layouts). Standard library only; writes to a temporary folder.

    python3 scripts/bench_subject_index.py [SIZE ...]     (default: 250000 2000000)
"""
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid

BATCH = 4096
EPOCH_BITS = 16


def run(folder, epoch, log_size, subjects):
    path = os.path.join(folder, f"index-{int(epoch)}-{log_size}.db")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    if epoch:
        conn.execute(
            "CREATE TABLE s (epoch INTEGER NOT NULL, subject TEXT NOT NULL, seq INTEGER NOT NULL,"
            " PRIMARY KEY (epoch, subject, seq)) WITHOUT ROWID"
        )
    else:
        conn.execute(
            "CREATE TABLE s (subject TEXT NOT NULL, seq INTEGER NOT NULL,"
            " PRIMARY KEY (subject, seq)) WITHOUT ROWID"
        )
    seq = 0

    def fill():
        nonlocal seq
        rows = [(random.choice(subjects), seq + i) for i in range(BATCH)]
        seq += BATCH
        conn.execute("BEGIN")
        if epoch:
            rows = sorted((q >> EPOCH_BITS, s, q) for s, q in rows)
            conn.executemany("INSERT INTO s VALUES (?, ?, ?)", rows)
        else:
            conn.executemany("INSERT INTO s VALUES (?, ?)", sorted(rows))
        conn.execute("COMMIT")

    while seq < log_size:
        fill()
        if seq % (BATCH * 16) == 0:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    start = time.perf_counter()
    for _ in range(16):
        fill()
    elapsed = time.perf_counter() - start
    wal = os.path.getsize(path + "-wal")
    conn.close()
    layout = "(epoch, subject, seq)" if epoch else "(subject, seq)       "
    print(
        f"log of {log_size:>11,} entries, key {layout}: "
        f"{elapsed / 16 / BATCH * 1e6:6.2f} µs an entry, {wal / 16 / BATCH:6.0f} B of WAL an entry"
    )


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [250_000, 2_000_000]
    random.seed(7)
    subjects = [str(uuid.uuid4()) for _ in range(200_000)]
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            for epoch in (False, True):
                run(folder, epoch, size, subjects)


if __name__ == "__main__":
    main()
