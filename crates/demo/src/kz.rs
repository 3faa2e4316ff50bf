//! Kazakhstan number formats the generator must get right on its own (this crate does not
//! depend on `derbes-core`): the IIN check digit, IBAN MOD 97-10, and Cyrillic → Latin
//! transliteration for e-mail addresses. See `shared/spec/kz-formats.md`.

use chrono::NaiveDate;

/// Sex as encoded in the IIN's 7th digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Odd century-and-sex digit (1, 3, 5).
    Male,
    /// Even century-and-sex digit (2, 4, 6).
    Female,
}

/// Second weights of the IIN check digit, used when the first pass gives 10.
const IIN_W2: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/// The IIN check digit for the first 11 digits (each 0..=9), or `None` when both passes give
/// 10: such a number is never issued.
pub fn iin_check_digit(d: &[u8; 11]) -> Option<u8> {
    let s1: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * (i as u32 + 1))
        .sum::<u32>()
        % 11;
    if s1 != 10 {
        return Some(s1 as u8);
    }
    let s2: u32 = d
        .iter()
        .zip(IIN_W2)
        .map(|(&x, w)| u32::from(x) * w)
        .sum::<u32>()
        % 11;
    if s2 == 10 {
        None
    } else {
        Some(s2 as u8)
    }
}

fn iin_digits(iin: &str) -> Option<[u8; 12]> {
    let b = iin.as_bytes();
    if b.len() != 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut d = [0u8; 12];
    for (o, c) in d.iter_mut().zip(b) {
        *o = c - b'0';
    }
    Some(d)
}

/// Whether `iin` is 12 digits whose check digit is right (the date is not looked at).
pub fn iin_check_ok(iin: &str) -> bool {
    let Some(d) = iin_digits(iin) else {
        return false;
    };
    let mut first = [0u8; 11];
    first.copy_from_slice(&d[..11]);
    iin_check_digit(&first) == Some(d[11])
}

/// The birth date and sex an IIN states, when its check digit is right, its 7th digit is 1..=6
/// and its first six digits are a real date in that century.
pub fn iin_birth_date(iin: &str) -> Option<(NaiveDate, Sex)> {
    if !iin_check_ok(iin) {
        return None;
    }
    let d = iin_digits(iin)?;
    let yy = i32::from(d[0]) * 10 + i32::from(d[1]);
    let mm = u32::from(d[2]) * 10 + u32::from(d[3]);
    let dd = u32::from(d[4]) * 10 + u32::from(d[5]);
    let (century, sex) = match d[6] {
        1 => (1800, Sex::Male),
        2 => (1800, Sex::Female),
        3 => (1900, Sex::Male),
        4 => (1900, Sex::Female),
        5 => (2000, Sex::Male),
        6 => (2000, Sex::Female),
        _ => return None,
    };
    Some((NaiveDate::from_ymd_opt(century + yy, mm, dd)?, sex))
}

/// The century-and-sex digit for a birth year (1800..=2099) and sex.
pub(crate) fn century_sex_digit(year: i32, sex: Sex) -> u8 {
    let base = if year >= 2000 {
        5
    } else if year >= 1900 {
        3
    } else {
        1
    };
    match sex {
        Sex::Male => base,
        Sex::Female => base + 1,
    }
}

/// Folds ASCII digits and upper-case letters (A=10 … Z=35) into a running MOD 97 remainder.
fn mod97_feed(mut r: u32, s: &[u8]) -> Option<u32> {
    for &c in s {
        r = match c {
            b'0'..=b'9' => (r * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (r * 100 + u32::from(c - b'A') + 10) % 97,
            _ => return None,
        };
    }
    Some(r)
}

/// The two IBAN check digits (2..=98) for country `cc` (two upper-case letters) and an
/// upper-case alphanumeric BBAN, per ISO 7064 MOD 97-10.
pub fn iban_check_digits(cc: &str, bban: &str) -> Option<u8> {
    let r = mod97_feed(0, bban.as_bytes())?;
    let r = mod97_feed(r, cc.as_bytes())?;
    let r = mod97_feed(r, b"00")?;
    Some((98 - r) as u8)
}

/// Whether `iban` is a 20-character Kazakhstan IBAN that passes MOD 97-10.
pub fn iban_ok(iban: &str) -> bool {
    let b = iban.as_bytes();
    if b.len() != 20 || !iban.starts_with("KZ") {
        return false;
    }
    let Some((head, tail)) = b.split_at_checked(4) else {
        return false;
    };
    if !head[2..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    mod97_feed(0, tail).and_then(|r| mod97_feed(r, head)) == Some(1)
}

/// Appends the lower-case ASCII transliteration of a Cyrillic (Russian or Kazakh) or Latin
/// name to `out`. Anything else (hyphen, apostrophe, space) is dropped.
pub(crate) fn translit_into(out: &mut String, s: &str) {
    for c in s.chars() {
        let t = match c {
            'а' | 'ә' | 'А' | 'Ә' => "a",
            'б' | 'Б' => "b",
            'в' | 'В' => "v",
            'г' | 'ғ' | 'Г' | 'Ғ' => "g",
            'д' | 'Д' => "d",
            'е' | 'ё' | 'э' | 'Е' | 'Ё' | 'Э' => "e",
            'ж' | 'Ж' => "zh",
            'з' | 'З' => "z",
            'и' | 'й' | 'і' | 'И' | 'Й' | 'І' => "i",
            'к' | 'қ' | 'К' | 'Қ' => "k",
            'л' | 'Л' => "l",
            'м' | 'М' => "m",
            'н' | 'Н' => "n",
            'ң' | 'Ң' => "ng",
            'о' | 'ө' | 'О' | 'Ө' => "o",
            'п' | 'П' => "p",
            'р' | 'Р' => "r",
            'с' | 'С' => "s",
            'т' | 'Т' => "t",
            'у' | 'ұ' | 'ү' | 'У' | 'Ұ' | 'Ү' => "u",
            'ф' | 'Ф' => "f",
            'х' | 'Х' => "kh",
            'һ' | 'Һ' => "h",
            'ц' | 'Ц' => "ts",
            'ч' | 'Ч' => "ch",
            'ш' | 'Ш' => "sh",
            'щ' | 'Щ' => "shch",
            'ы' | 'Ы' => "y",
            'ю' | 'Ю' => "yu",
            'я' | 'Я' => "ya",
            l if l.is_ascii_alphabetic() => {
                out.push(l.to_ascii_lowercase());
                continue;
            }
            _ => continue,
        };
        out.push_str(t);
    }
}

/// Rewrites a Kazakh name the way older Russian-language documents spell it: each Kazakh
/// letter becomes the nearest Russian one (Нұрлан → Нурлан, Қасымов → Касымов).
pub(crate) fn russify(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'Ә' => 'А',
            'ә' => 'а',
            'Ғ' => 'Г',
            'ғ' => 'г',
            'Қ' => 'К',
            'қ' => 'к',
            'Ң' => 'Н',
            'ң' => 'н',
            'Ө' => 'О',
            'ө' => 'о',
            'Ұ' | 'Ү' => 'У',
            'ұ' | 'ү' => 'у',
            'Һ' => 'Х',
            'һ' => 'х',
            'І' => 'И',
            'і' => 'и',
            other => other,
        })
        .collect()
}

/// The Kazakh letters that do not occur in Russian.
pub const KAZAKH_LETTERS: &str = "ӘҒҚҢӨҰҮҺІәғқңөұүһі";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_iins() {
        assert!(iin_check_ok("791028302728"));
        assert!(iin_check_ok("061211600012"));
        assert!(!iin_check_ok("900101300011"));
        assert!(!iin_check_ok("79102830272"));
        assert!(!iin_check_ok("79102830272x"));
        let (d, s) = iin_birth_date("791028302728").unwrap();
        assert_eq!(d, NaiveDate::from_ymd_opt(1979, 10, 28).unwrap());
        assert_eq!(s, Sex::Male);
        let (d, s) = iin_birth_date("061211600012").unwrap();
        assert_eq!(d, NaiveDate::from_ymd_opt(2006, 12, 11).unwrap());
        assert_eq!(s, Sex::Female);
    }

    #[test]
    fn second_pass_weights_are_used() {
        // Find an 11-digit prefix whose first pass gives 10 and check the second pass decides.
        let mut seen_second = false;
        let mut seen_never = false;
        for n in 0u64..200_000 {
            let mut d = [7u8, 9, 1, 0, 2, 8, 3, 0, 0, 0, 0];
            let mut m = n;
            for k in (4..11).rev() {
                d[k] = (m % 10) as u8;
                m /= 10;
            }
            let s1: u32 = d
                .iter()
                .enumerate()
                .map(|(i, &x)| u32::from(x) * (i as u32 + 1))
                .sum::<u32>()
                % 11;
            if s1 == 10 {
                match iin_check_digit(&d) {
                    Some(c) => {
                        assert!(c < 10);
                        seen_second = true;
                    }
                    None => seen_never = true,
                }
            }
        }
        assert!(seen_second && seen_never);
    }

    #[test]
    fn known_iban() {
        assert!(iban_ok("KZ86125KZT5004100100"));
        assert_eq!(iban_check_digits("KZ", "125KZT5004100100"), Some(86));
        assert!(!iban_ok("KZ87125KZT5004100100"));
        assert!(!iban_ok("KZ86125KZT500410010"));
        assert!(!iban_ok("KZ86125kzt5004100100"));
    }

    #[test]
    fn translit() {
        let mut s = String::new();
        translit_into(&mut s, "Нұрлан Әбілқасымов-Щукин O'Neil");
        assert_eq!(s, "nurlanabilkasymovshchukinoneil");
        let mut all = String::new();
        translit_into(&mut all, "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯӘҒҚҢӨҰҮҺІ");
        let mut lower = String::new();
        translit_into(
            &mut lower,
            &"АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯӘҒҚҢӨҰҮҺІ".to_lowercase(),
        );
        assert_eq!(all, lower);
        assert_eq!(all, "abvgdeezhziiklmnoprstufkhtschshshchyeyuyaagkngouuhi");
        assert_eq!(
            russify("Қасымов Әсел Нұрланқызы"),
            "Касымов Асел Нурланкызы"
        );
    }

    #[test]
    fn century_digit() {
        assert_eq!(century_sex_digit(1979, Sex::Male), 3);
        assert_eq!(century_sex_digit(1979, Sex::Female), 4);
        assert_eq!(century_sex_digit(2006, Sex::Female), 6);
        assert_eq!(century_sex_digit(2000, Sex::Male), 5);
    }
}
