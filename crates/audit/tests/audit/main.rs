//! Integration tests of `derbes-audit` (one binary). Test names carry the clause IDs they
//! prove (clauses 8.1, 5.1–5.5, 4.1, L-PROTECTION).

mod support;

mod entry;
mod merkle;
mod proofs;
mod tamper;
