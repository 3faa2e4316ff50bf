//! `derbes-report`: printable PDF documents (clause 7.1b: "a printable document" of the
//! subject's data).
//!
//! A [`Report`] is a title, a few header lines and sections of text lines; [`render_pdf`]
//! lays it out on A4 pages (wrapping long lines, breaking pages) with
//! [krilla](https://docs.rs/krilla), embedding a subset of DejaVu Sans — a font that covers
//! Russian and every Kazakh letter (Ә Ғ Қ Ң Ө Ұ Ү Һ І) — compiled into the binary, so the
//! report looks the same on every reader and its text can be copied and searched (krilla
//! writes a `ToUnicode` map). Pure: no I/O, no clock; the caller supplies every string.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![forbid(unsafe_code)]

use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use krilla::Document;

/// DejaVu Sans (Bitstream Vera licence, `fonts/LICENSE-DejaVu.txt`).
pub static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The embedded font did not load (a build problem).
    #[error("the embedded font did not load")]
    Font,
    /// The PDF writer failed.
    #[error("the PDF could not be written")]
    Pdf,
}

impl ReportError {
    /// A stable code.
    pub fn code(&self) -> &'static str {
        match self {
            ReportError::Font => "report_font",
            ReportError::Pdf => "report_pdf",
        }
    }
}

/// One section: a heading and its lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The heading.
    pub heading: String,
    /// The lines (long lines are wrapped).
    pub lines: Vec<String>,
}

/// A printable report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The title (also the PDF's title metadata).
    pub title: String,
    /// BCP 47 language of the text (`ru`, `kk`, `en`).
    pub lang: String,
    /// Lines under the title (who, when, reference).
    pub header: Vec<String>,
    /// The sections.
    pub sections: Vec<Section>,
    /// A footer line on every page (e.g. the export id); the page number is appended.
    pub footer: String,
}

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 50.0;
const TITLE_SIZE: f32 = 16.0;
const HEAD_SIZE: f32 = 12.0;
const BODY_SIZE: f32 = 9.5;
const LINE: f32 = 13.0;
/// Characters per wrapped body line: DejaVu Sans averages ~0.55 em, 495 pt / (9.5 × 0.55).
const WRAP: usize = 92;

/// Split `text` into lines of at most `width` characters, at spaces where possible.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut len = 0usize;
        for word in para.split(' ') {
            let wlen = word.chars().count();
            if len > 0 && len + 1 + wlen > width {
                out.push(std::mem::take(&mut line));
                len = 0;
            }
            if wlen > width {
                // A word longer than a line: cut it.
                let chars: Vec<char> = word.chars().collect();
                for chunk in chars.chunks(width) {
                    if len > 0 {
                        out.push(std::mem::take(&mut line));
                    }
                    line = chunk.iter().collect();
                    len = chunk.len();
                }
                continue;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            line.push_str(word);
            len += wlen;
        }
        out.push(line);
    }
    out
}

/// One positioned run of text.
struct Run {
    size: f32,
    x: f32,
    text: String,
}

/// Lay the report out into pages of runs (y is implied by order and `LINE`).
fn layout(report: &Report) -> Vec<Vec<(f32, Run)>> {
    let mut pages: Vec<Vec<(f32, Run)>> = vec![Vec::new()];
    let mut y = MARGIN + TITLE_SIZE;
    let bottom = PAGE_H - MARGIN - 2.0 * LINE;
    let push = |pages: &mut Vec<Vec<(f32, Run)>>,
                y: &mut f32,
                size: f32,
                x: f32,
                text: String,
                advance: f32| {
        if *y > bottom {
            pages.push(Vec::new());
            *y = MARGIN + size;
        }
        if let Some(page) = pages.last_mut() {
            page.push((*y, Run { size, x, text }));
        }
        *y += advance;
    };
    for l in wrap(&report.title, 60) {
        push(&mut pages, &mut y, TITLE_SIZE, MARGIN, l, TITLE_SIZE + 6.0);
    }
    y += 4.0;
    for h in &report.header {
        for l in wrap(h, WRAP) {
            push(&mut pages, &mut y, BODY_SIZE, MARGIN, l, LINE);
        }
    }
    for s in &report.sections {
        y += 8.0;
        for l in wrap(&s.heading, 75) {
            push(&mut pages, &mut y, HEAD_SIZE, MARGIN, l, HEAD_SIZE + 5.0);
        }
        for line in &s.lines {
            for (i, l) in wrap(line, WRAP - 2).into_iter().enumerate() {
                let x = if i == 0 { MARGIN } else { MARGIN + 12.0 };
                push(&mut pages, &mut y, BODY_SIZE, x, l, LINE);
            }
        }
    }
    pages
}

/// Render `report` as a PDF.
pub fn render_pdf(report: &Report) -> Result<Vec<u8>, ReportError> {
    let font = Font::new(FONT.into(), 0).ok_or(ReportError::Font)?;
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(ReportError::Pdf)?;
    let mut document = Document::new();
    let pages = layout(report);
    let total = pages.len();
    for (n, runs) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for (y, run) in runs {
            surface.draw_text(
                Point::from_xy(run.x, y),
                font.clone(),
                run.size,
                &run.text,
                false,
                TextDirection::Auto,
            );
        }
        let footer = format!("{} — {}/{}", report.footer, n + 1, total);
        surface.draw_text(
            Point::from_xy(MARGIN, PAGE_H - MARGIN + 10.0),
            font.clone(),
            7.5,
            &footer,
            false,
            TextDirection::Auto,
        );
        surface.finish();
        page.finish();
    }
    let metadata = krilla::metadata::Metadata::new()
        .title(report.title.clone())
        .language(report.lang.clone())
        .creator("derbes".to_string());
    document.set_metadata(metadata);
    document.finish().map_err(|_| ReportError::Pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_words_and_width() {
        let lines = wrap("Дербес деректер туралы анықтама және тағы басқа сөздер", 20);
        assert!(lines.iter().all(|l| l.chars().count() <= 20), "{lines:?}");
        assert_eq!(
            lines.join(" "),
            "Дербес деректер туралы анықтама және тағы басқа сөздер"
        );
        let long = "x".repeat(50);
        assert!(wrap(&long, 20).iter().all(|l| l.chars().count() <= 20));
    }
}
