//! `derbes-core`: the vocabulary of the personal-data system, with no I/O, no async and no SQL.
//!
//! Every type here is valid by construction ("parse, don't validate"): an [`iin::Iin`] is a
//! 12-digit individual identification number whose check digit and birth date are correct, a
//! [`phone::Phone`] is an E.164 Kazakhstan number, and so on (see `shared/spec/kz-formats.md`).
//! The registries of purposes and data categories (clauses 1.1, 2.1, 3.2, L-LIST) live in
//! [`registry`]; time is an input through [`clock::Clock`].
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

pub mod bin;
pub mod calendar;
pub mod clock;
pub mod email;
pub mod iban;
pub mod iin;
pub mod kind;
pub mod name;
pub mod phone;
pub mod registry;
pub mod roles;
pub mod value;
