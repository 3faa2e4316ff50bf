//! Clause 7.1b: the printable report embeds a font covering Kazakh, and its text can be
//! extracted again (a ToUnicode map is written), in Russian, Kazakh and English.

use derbes_report::{render_pdf, Report, Section};

fn report(title: &str, lang: &str) -> Report {
    Report {
        title: title.into(),
        lang: lang.into(),
        header: vec!["Жасалған уақыты: 2026-11-25 10:00".into()],
        sections: vec![Section {
            heading: "Дербес деректер".into(),
            lines: (0..120)
                .map(|i| format!("{i}: Ә Ғ Қ Ң Ө Ұ Ү Һ І — ә ғ қ ң ө ұ ү һ і, Жұмабеков Ержан"))
                .collect(),
        }],
        footer: "Анықтама № 0190".into(),
    }
}

fn text_of(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).expect("text extraction")
}

#[test]
fn c7_1b_kazakh_report_title_and_letters_extractable() {
    let pdf = render_pdf(&report("Дербес деректер туралы анықтама", "kk")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(
        pdf.len() < 400_000,
        "the font is subset, not embedded whole: {}",
        pdf.len()
    );
    let text = text_of(&pdf);
    assert!(text.contains("Дербес деректер туралы анықтама"), "{text}");
    for letter in [
        "Ә", "Ғ", "Қ", "Ң", "Ө", "Ұ", "Ү", "Һ", "І", "ә", "ғ", "қ", "ң", "ө", "ұ", "ү", "һ", "і",
    ] {
        assert!(text.contains(letter), "letter {letter} missing");
    }
    assert!(text.contains("Жұмабеков"));
    // 120 lines do not fit on one page: a second page with its footer.
    assert!(text.contains("2/"), "page numbers");
}

#[test]
fn c7_1b_russian_and_english_titles() {
    for (title, lang) in [
        ("Справка о персональных данных", "ru"),
        ("Personal data report", "en"),
    ] {
        let text = text_of(&render_pdf(&report(title, lang)).unwrap());
        assert!(text.contains(title), "{lang}: {text}");
    }
}
