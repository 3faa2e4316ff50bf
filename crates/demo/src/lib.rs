//! `derbes-demo`: realistic fictional Kazakhstan borrowers, the same for the same seed.
//!
//! Used by `derbes demo` and `derbes serve --demo` (a few hundred borrowers) and by the
//! benchmarks (100 000 and more). Each [`DemoSubject`] holds the 15 data categories listed in
//! [`CATEGORIES`], in that order, each as the JSON the API accepts for it.
//!
//! ```
//! let people = derbes_demo::generate(7, 3);
//! assert_eq!(people.len(), 3);
//! assert_eq!(people[0].values[0].0, "full_name");
//! assert_eq!(people, derbes_demo::generate(7, 3));
//! ```
//!
//! # What is realistic and what is deliberately wrong
//!
//! * Names are Kazakh (often with the letters Ә Ғ Қ Ң Ө Ұ Ү Һ І, sometimes spelled the older
//!   Russian way) or Russian-style (Russian, Ukrainian, Korean, German, Tatar surnames), the
//!   surname and patronymic agreeing with the sex in the IIN. About one in eight has no
//!   patronymic.
//! * Ages are 18..=75 on [`REFERENCE_DATE`], weighted towards 25..45.
//! * The IIN carries the true birth date and sex. In about 1 % of subjects the stated
//!   `birth_date` is a few days off the IIN's date: the verification-flag case of clause 2.2.
//!   [`is_deliberate_mismatch`] tells which ones; every other subject agrees with its IIN.
//! * Bank codes in IBANs are real banks' codes (see [`BANKS`]); account numbers, people,
//!   phones, e-mail domains (`example.kz`, `mail.example`, `inbox.example`) and employers are
//!   fictional.
//! * A subject whose employer is "Не работает" still has a `salary_amount`, at the low end
//!   (150 000..250 000 tenge): read it as declared other income (pension, benefits).
//!
//! # Uniqueness
//!
//! Within one generator run (one seed), IINs, mobile phones, e-mails, IBANs and identity card
//! numbers never repeat. E-mails carry the subject's index. Mobile numbers, IBAN account
//! numbers and card numbers are an affine permutation of the index (unique up to 120 million,
//! 10¹⁰ and 10⁸ subjects respectively). IIN serials are handed out per (birth date, sex) from
//! a counter that walks a permutation of 0..10 000, skipping serials whose check digit would be
//! "never issued"; a full date moves the subject to the next day. So a collision is impossible;
//! the iterator ends (returns `None`) only when every serial of every date in the age range is
//! used, about 400 million subjects.
//!
//! # Determinism
//!
//! The random source is ChaCha8 seeded with [`rand::SeedableRng::seed_from_u64`], and no draw
//! depends on `usize` width or floating point, so a seed gives the same people on every
//! platform. Subject `n` depends on subjects `0..n` (the IIN counters), so the only way to get
//! it is to generate from the start.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

mod data;
mod kz;

pub use data::{Bank, BANKS};
pub use kz::{
    iban_check_digits, iban_ok, iin_birth_date, iin_check_digit, iin_check_ok, Sex, KAZAKH_LETTERS,
};

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use chrono::{Datelike, Months, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use data::{City, CITIES};

/// The category codes of every subject, in the order they appear in [`DemoSubject::values`].
pub const CATEGORIES: [&str; 15] = [
    "full_name",
    "birth_date",
    "email",
    "mobile_phone",
    "home_phone",
    "work_phone",
    "registration_address",
    "residence_address",
    "bank_account",
    "id_document",
    "iin",
    "employer",
    "salary_amount",
    "salary_day",
    "marital_status",
];

/// The day ages are counted on: every subject is 18..=75 years old on 1 January 2026, and
/// every identity card is valid on it.
pub const REFERENCE_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2026, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The values of `marital_status`.
pub const MARITAL_STATUSES: [&str; 5] = ["single", "married", "divorced", "widowed", "civil_union"];

/// One fictional borrower: (category code, JSON input as the API accepts it), in the order of
/// [`CATEGORIES`].
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSubject {
    /// The 15 values, one per category.
    pub values: Vec<(&'static str, Value)>,
}

impl DemoSubject {
    /// The value of category `code`, if the subject has it.
    pub fn get(&self, code: &str) -> Option<&Value> {
        self.values.iter().find(|(c, _)| *c == code).map(|(_, v)| v)
    }

    /// The value of category `code` when it is a JSON string.
    pub fn get_str(&self, code: &str) -> Option<&str> {
        self.get(code).and_then(Value::as_str)
    }
}

/// `count` subjects from `seed`: the first `count` items of [`DemoGen::new`]`(seed)`.
pub fn generate(seed: u64, count: usize) -> Vec<DemoSubject> {
    let mut out = Vec::with_capacity(count);
    out.extend(DemoGen::new(seed).take(count));
    out
}

/// Whether the subject's stated `birth_date` deliberately disagrees with the birth date in its
/// IIN (about 1 % of subjects; clause 2.2's verification flag). False when either is missing or
/// malformed.
pub fn is_deliberate_mismatch(subject: &DemoSubject) -> bool {
    let (Some(iin), Some(stated)) = (subject.get_str("iin"), subject.get_str("birth_date")) else {
        return false;
    };
    let Ok(stated) = NaiveDate::parse_from_str(stated, "%Y-%m-%d") else {
        return false;
    };
    iin_birth_date(iin).is_some_and(|(d, _)| d != stated)
}

/// Age bands (inclusive ages on [`REFERENCE_DATE`]) and how often each is drawn.
const AGE_BANDS: [(u32, u32); 6] = [(18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 75)];
const AGE_WEIGHTS: [u32; 6] = [12, 30, 27, 16, 10, 5];

/// Multipliers of the index permutations; each is coprime to its modulus.
const MOBILE_MOD: u64 = 120_000_000;
const MOBILE_MUL: u64 = 73_856_093;
const IBAN_MOD: u64 = 10_000_000_000;
const IBAN_MUL: u64 = 6_364_136_223;
const CARD_MOD: u64 = 100_000_000;
const CARD_MUL: u64 = 19_349_663;
const SERIAL_MUL: u32 = 7_919;

const EMAIL_DOMAINS: [&str; 3] = ["example.kz", "mail.example", "inbox.example"];

/// Monthly salary bands in tenge (inclusive) and their weights.
const SALARY_BANDS: [(u64, u64); 6] = [
    (150_000, 200_000),
    (200_000, 300_000),
    (300_000, 400_000),
    (400_000, 600_000),
    (600_000, 900_000),
    (900_000, 1_500_000),
];
const SALARY_WEIGHTS: [u32; 6] = [18, 28, 20, 18, 10, 6];
const SALARY_MAX_TIYN: u64 = 1_500_000 * 100;

/// The iterator of subjects for one seed. Endless in practice (see the crate docs).
pub struct DemoGen {
    rng: ChaCha8Rng,
    seed: u64,
    index: u64,
    /// (first, last) day number (days from CE) of each age band.
    bands: [(i32, i32); 6],
    min_day: i32,
    max_day: i32,
    mobile_off: u64,
    iban_off: u64,
    card_off: u64,
    /// Next counter per (birth day number × 8 + century-and-sex digit).
    serials: HashMap<u32, u16, BuildHasherDefault<KeyHasher>>,
}

/// A multiply-xorshift hasher for the small integer keys of the serial counters (SipHash's
/// protection against crafted keys is not needed for keys the generator makes itself).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = splitmix64(self.0 ^ u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = splitmix64(self.0 ^ u64::from(n));
    }
}

/// `YYYY-MM-DD` (years 1000..=9999, which is all this crate makes).
fn iso_date(d: NaiveDate) -> String {
    let (y, m, day) = (d.year().clamp(0, 9999) as u32, d.month(), d.day());
    let digits = [
        y / 1000,
        y / 100 % 10,
        y / 10 % 10,
        y % 10,
        10,
        m / 10,
        m % 10,
        10,
        day / 10,
        day % 10,
    ];
    digits
        .iter()
        .map(|&x| {
            if x == 10 {
                '-'
            } else {
                char::from(b'0' + x as u8)
            }
        })
        .collect()
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// `(mul · i + off) mod m`, a bijection on `0..m` when `mul` is coprime to `m`.
fn permute(i: u64, mul: u64, off: u64, m: u64) -> u64 {
    ((u128::from(i) * u128::from(mul) + u128::from(off)) % u128::from(m)) as u64
}

fn date_from_days(d: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(d).unwrap_or(REFERENCE_DATE)
}

fn years_before(d: NaiveDate, years: u32) -> NaiveDate {
    d.checked_sub_months(Months::new(12 * years)).unwrap_or(d)
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len() as u32) as usize]
}

fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// One of `xs`, each drawn in proportion to `weight`.
fn pick_weighted<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = xs.iter().map(&weight).sum();
    let mut r = rng.gen_range(0..total);
    for x in xs {
        let w = weight(x);
        if r < w {
            return x;
        }
        r -= w;
    }
    &xs[xs.len() - 1]
}

fn pick_city(rng: &mut ChaCha8Rng) -> &'static City {
    pick_weighted(rng, CITIES, |c| c.weight)
}

struct Name {
    surname: String,
    given: String,
    patronymic: Option<String>,
}

fn ends_in_consonant(s: &str) -> bool {
    s.chars()
        .last()
        .is_some_and(|c| !"аәеёиіоөуұүыэюяйь".contains(c))
}

fn make_name(rng: &mut ChaCha8Rng, sex: Sex) -> Name {
    let female = sex == Sex::Female;
    if rng.gen_ratio(72, 100) {
        let given = *pick(
            rng,
            if female {
                data::KZ_FEMALE
            } else {
                data::KZ_MALE
            },
        );
        let father = *pick(rng, data::KZ_MALE);
        let (surname, patronymic) = if rng.gen_ratio(7, 100) {
            // New-style surname made from an ancestor's name; no patronymic.
            let ancestor = *pick(rng, data::KZ_MALE);
            let suffix = if female { "қызы" } else { "ұлы" };
            (format!("{ancestor}{suffix}"), None)
        } else {
            let base = *pick(rng, data::KZ_SURNAMES);
            let surname = if female {
                format!("{base}а")
            } else {
                base.to_owned()
            };
            let style = rng.gen_range(0..100u32);
            let patronymic = if style < 45 || (style < 90 && !ends_in_consonant(father)) {
                let suffix = if female { "қызы" } else { "ұлы" };
                Some(format!("{father}{suffix}"))
            } else if style < 90 {
                let suffix = if female { "овна" } else { "ович" };
                Some(format!("{father}{suffix}"))
            } else {
                None
            };
            (surname, patronymic)
        };
        if rng.gen_ratio(20, 100) {
            Name {
                surname: kz::russify(&surname),
                given: kz::russify(given),
                patronymic: patronymic.as_deref().map(kz::russify),
            }
        } else {
            Name {
                surname,
                given: given.to_owned(),
                patronymic,
            }
        }
    } else {
        let given = if female {
            *pick(rng, data::RU_FEMALE)
        } else {
            pick(rng, data::RU_MALE).0
        };
        let (_, son, daughter) = *pick(rng, data::RU_MALE);
        let (m, f) = *pick(rng, data::RU_SURNAMES);
        let patronymic = if rng.gen_ratio(95, 100) {
            Some(if female { daughter } else { son }.to_owned())
        } else {
            None
        };
        Name {
            surname: if female { f } else { m }.to_owned(),
            given: given.to_owned(),
            patronymic,
        }
    }
}

fn address(rng: &mut ChaCha8Rng, city: &City) -> String {
    let &(ru, kk) = pick(rng, city.streets);
    let micro = ru.starts_with("мкр.");
    let house = rng.gen_range(1..=if micro { 80u32 } else { 250 });
    let apartment = if micro || rng.gen_ratio(78, 100) {
        Some(rng.gen_range(1..=180u32))
    } else {
        None
    };
    let mut s = String::with_capacity(96);
    if rng.gen_ratio(60, 100) {
        let _ = write!(s, "{}, {ru}, д. {house}", city.ru);
        if let Some(a) = apartment {
            let _ = write!(s, ", кв. {a}");
        }
    } else {
        let _ = write!(s, "{}, {kk}, {house}-үй", city.kk);
        if let Some(a) = apartment {
            let _ = write!(s, ", {a}-пәтер");
        }
    }
    s
}

fn landline(rng: &mut ChaCha8Rng, city: &City) -> String {
    let rest_len = 10 - city.area.len() - 1;
    let first = rng.gen_range(2..=if city.area.len() == 3 { 3u32 } else { 5 });
    let rest = rng.gen_range(0..10u32.pow(rest_len as u32));
    format!("+7{}{first}{rest:0rest_len$}", city.area)
}

fn string(s: String) -> Value {
    Value::String(s)
}

impl DemoGen {
    /// A generator of subjects from `seed`.
    pub fn new(seed: u64) -> DemoGen {
        let r = REFERENCE_DATE;
        let bands = AGE_BANDS.map(|(lo, hi)| {
            let first = years_before(r, hi + 1).num_days_from_ce() + 1;
            let last = years_before(r, lo).num_days_from_ce();
            (first, last)
        });
        let min_day = bands.iter().map(|b| b.0).min().unwrap_or(0);
        let max_day = bands.iter().map(|b| b.1).max().unwrap_or(0);
        DemoGen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            index: 0,
            bands,
            min_day,
            max_day,
            mobile_off: splitmix64(seed ^ 0x6d6f_6269_6c65) % MOBILE_MOD,
            iban_off: splitmix64(seed ^ 0x6962_616e) % IBAN_MOD,
            card_off: splitmix64(seed ^ 0x6361_7264) % CARD_MOD,
            serials: HashMap::default(),
        }
    }

    /// How many subjects this generator has produced; the next one has this index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// An unused IIN for someone of `sex` born on day `day` (or, if that day's serials are
    /// all used, the next day with a free one), with the birth date it encodes.
    fn iin_for(&mut self, mut day: i32, sex: Sex) -> Option<(String, i32)> {
        let span = self.max_day - self.min_day + 1;
        for _ in 0..span {
            let date = date_from_days(day);
            let digit = kz::century_sex_digit(date.year(), sex);
            let key = (day as u32) * 8 + u32::from(digit);
            let off = (splitmix64(self.seed ^ u64::from(key).wrapping_mul(0x2545_F491_4F6C_DD1D))
                % 10_000) as u32;
            let counter = self.serials.entry(key).or_insert(0);
            let yy = date.year().rem_euclid(100) as u32;
            let (mm, dd) = (date.month(), date.day());
            while *counter < 10_000 {
                let serial = (u32::from(*counter) * SERIAL_MUL + off) % 10_000;
                *counter += 1;
                let d: [u8; 11] = [
                    (yy / 10) as u8,
                    (yy % 10) as u8,
                    (mm / 10) as u8,
                    (mm % 10) as u8,
                    (dd / 10) as u8,
                    (dd % 10) as u8,
                    digit,
                    (serial / 1000) as u8,
                    (serial / 100 % 10) as u8,
                    (serial / 10 % 10) as u8,
                    (serial % 10) as u8,
                ];
                if let Some(check) = iin_check_digit(&d) {
                    let mut s = String::with_capacity(12);
                    for x in d.iter().chain(std::iter::once(&check)) {
                        s.push(char::from(b'0' + x));
                    }
                    return Some((s, day));
                }
            }
            day = if day >= self.max_day {
                self.min_day
            } else {
                day + 1
            };
        }
        None
    }

    fn make(&mut self) -> Option<DemoSubject> {
        let i = self.index;
        let sex = if self.rng.gen_ratio(52, 100) {
            Sex::Female
        } else {
            Sex::Male
        };
        let band = weighted(&mut self.rng, &AGE_WEIGHTS);
        let (lo, hi) = self.bands[band];
        let drawn_day = self.rng.gen_range(lo..=hi);
        let (iin, day) = self.iin_for(drawn_day, sex)?;
        self.index += 1;
        let rng = &mut self.rng;

        let birth = date_from_days(day);
        let stated = if rng.gen_ratio(1, 100) {
            let k = rng.gen_range(1..=5);
            let shifted = if rng.gen_ratio(1, 2) {
                day + k
            } else {
                day - k
            };
            if (self.min_day..=self.max_day).contains(&shifted) {
                shifted
            } else {
                2 * day - shifted
            }
        } else {
            day
        };

        let name = make_name(rng, sex);
        let mut full_name = Map::new();
        full_name.insert("surname".into(), string(name.surname.clone()));
        full_name.insert("given".into(), string(name.given.clone()));
        if let Some(p) = name.patronymic {
            full_name.insert("patronymic".into(), string(p));
        }

        let mut email = String::with_capacity(48);
        let sep = match rng.gen_range(0..4u32) {
            0 => {
                kz::translit_into(&mut email, &name.given);
                email.push('.');
                kz::translit_into(&mut email, &name.surname);
                '.'
            }
            1 => {
                kz::translit_into(&mut email, &name.surname);
                email.push('.');
                kz::translit_into(&mut email, &name.given);
                '.'
            }
            2 => {
                kz::translit_into(&mut email, &name.given);
                email.truncate(1);
                email.push('.');
                kz::translit_into(&mut email, &name.surname);
                '.'
            }
            _ => {
                kz::translit_into(&mut email, &name.given);
                email.push('_');
                kz::translit_into(&mut email, &name.surname);
                '_'
            }
        };
        let domain = *pick(rng, &EMAIL_DOMAINS);
        let _ = write!(email, "{sep}{i:03}@{domain}");

        let m = permute(i, MOBILE_MUL, self.mobile_off, MOBILE_MOD);
        let prefix = data::MOBILE_PREFIXES[(m / 10_000_000) as usize];
        let mobile = format!("+7{prefix}{:07}", m % 10_000_000);

        let reg_city = pick_city(rng);
        let registration = address(rng, reg_city);
        let (res_city, residence) = if rng.gen_ratio(70, 100) {
            (reg_city, registration.clone())
        } else {
            let c = if rng.gen_ratio(55, 100) {
                reg_city
            } else {
                pick_city(rng)
            };
            (c, address(rng, c))
        };
        let home_phone = landline(rng, res_city);
        let work_city = if rng.gen_ratio(85, 100) {
            res_city
        } else {
            pick_city(rng)
        };
        let work_phone = landline(rng, work_city);

        let bank = pick_weighted(rng, BANKS, |b| b.weight);
        let bban = format!(
            "{}KZT{:010}",
            bank.code,
            permute(i, IBAN_MUL, self.iban_off, IBAN_MOD)
        );
        let check = iban_check_digits("KZ", &bban).unwrap_or_default();
        let mut bank_account = Map::new();
        bank_account.insert("iban".into(), string(format!("KZ{check:02}{bban}")));
        bank_account.insert("bank_name".into(), string(bank.name.to_owned()));

        let first_issue = birth
            .checked_add_months(Months::new(16 * 12))
            .unwrap_or(birth)
            .num_days_from_ce()
            .max(years_before(REFERENCE_DATE, 10).num_days_from_ce() + 1);
        let last_issue = REFERENCE_DATE.num_days_from_ce() - 1;
        let issued = date_from_days(rng.gen_range(first_issue..=last_issue.max(first_issue)));
        let valid_until = issued
            .checked_add_months(Months::new(120))
            .unwrap_or(issued);
        let mut id_document = Map::new();
        id_document.insert("type".into(), string("id_card".to_owned()));
        id_document.insert(
            "number".into(),
            string(format!(
                "0{:08}",
                permute(i, CARD_MUL, self.card_off, CARD_MOD)
            )),
        );
        let issuer = if rng.gen_ratio(1, 2) {
            "МВД РК"
        } else {
            "ҚР ІІМ"
        };
        id_document.insert("issued_by".into(), string(issuer.to_owned()));
        id_document.insert("issued_on".into(), string(iso_date(issued)));
        id_document.insert("valid_until".into(), string(iso_date(valid_until)));

        let unemployed_pct = match band {
            5 => 55,
            4 => 15,
            _ => 6,
        };
        let unemployed = rng.gen_range(0..100u32) < unemployed_pct;
        let employer = if unemployed {
            "Не работает".to_owned()
        } else {
            match weighted(rng, &[12, 50, 12, 9, 7, 6, 4]) {
                0 => {
                    if rng.gen_ratio(1, 2) {
                        format!("ИП {}", name.surname)
                    } else {
                        format!("ИП {}", pick(rng, data::KZ_SURNAMES))
                    }
                }
                k @ (1 | 2 | 5 | 6) => {
                    let form = ["", "ТОО", "АО", "", "", "ЖШС", "АҚ"][k];
                    let a = pick(rng, data::FIRM_A);
                    let b = pick(rng, data::FIRM_B);
                    format!("{form} «{a} {b}»")
                }
                3 => format!(
                    "КГУ «Общеобразовательная школа № {}»",
                    rng.gen_range(1..=180u32)
                ),
                _ => format!(
                    "ГКП на ПХВ «Городская поликлиника № {}»",
                    rng.gen_range(1..=36u32)
                ),
            }
        };

        let tenge = if unemployed {
            rng.gen_range(150_000..=250_000u64)
        } else {
            let (lo, hi) = SALARY_BANDS[weighted(rng, &SALARY_WEIGHTS)];
            rng.gen_range(lo..=hi)
        };
        let tiyn = if rng.gen_ratio(70, 100) {
            (tenge / 1000 * 1000) * 100
        } else {
            (tenge * 100 + rng.gen_range(0..100u64)).min(SALARY_MAX_TIYN)
        };
        let salary_day: u64 = if rng.gen_ratio(55, 100) {
            *pick(rng, &[1u64, 5, 10, 15, 20, 25])
        } else {
            rng.gen_range(1..=28)
        };

        let marital_weights: [u32; 5] = match band {
            0 => [70, 20, 3, 0, 7],
            1 => [30, 52, 9, 1, 8],
            2 | 3 => [10, 65, 16, 4, 5],
            _ => [5, 60, 13, 20, 2],
        };
        let marital = MARITAL_STATUSES[weighted(rng, &marital_weights)];

        let values = vec![
            ("full_name", Value::Object(full_name)),
            ("birth_date", string(iso_date(date_from_days(stated)))),
            ("email", string(email)),
            ("mobile_phone", string(mobile)),
            ("home_phone", string(home_phone)),
            ("work_phone", string(work_phone)),
            ("registration_address", string(registration)),
            ("residence_address", string(residence)),
            ("bank_account", Value::Object(bank_account)),
            ("id_document", Value::Object(id_document)),
            ("iin", string(iin)),
            ("employer", string(employer)),
            ("salary_amount", Value::from(tiyn)),
            ("salary_day", Value::from(salary_day)),
            ("marital_status", string(marital.to_owned())),
        ];
        Some(DemoSubject { values })
    }
}

impl Iterator for DemoGen {
    type Item = DemoSubject;

    fn next(&mut self) -> Option<DemoSubject> {
        self.make()
    }
}

#[cfg(test)]
mod tests;
