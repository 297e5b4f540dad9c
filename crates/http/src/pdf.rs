//! A4 pages of Chinese text as a PDF (`pdf-writer`), for documents people keep: a certificate
//! of service. The text is set in the reader's own Song face (Adobe's `STSong-Light`, which
//! every PDF reader maps to a Chinese font it has), not embedded: a document is a few kilobytes,
//! and the text stays text (a `ToUnicode` map, so it can be searched and copied). Characters
//! beyond the Basic Multilingual Plane, which the encoding cannot carry, are shown as `？`.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// A4, in points.
pub const WIDTH: f32 = 595.28;
pub const HEIGHT: f32 = 841.89;
/// The margin all around.
pub const MARGIN: f32 = 64.0;

const FONT: Name<'static> = Name(b"F1");

/// A document being laid out: pages of lines of text, top to bottom.
pub struct Document {
    pages: Vec<Content>,
    /// Where the next line's baseline goes on the last page.
    y: f32,
}

impl Default for Document {
    fn default() -> Self {
        Document::new()
    }
}

impl Document {
    pub fn new() -> Self {
        let mut d = Document {
            pages: Vec::new(),
            y: 0.0,
        };
        d.new_page();
        d
    }

    fn new_page(&mut self) {
        self.pages.push(Content::new());
        self.y = HEIGHT - MARGIN;
    }

    /// Room for a line of `size` on this page, else a new page.
    fn room(&mut self, size: f32) {
        if self.y - size * 1.6 < MARGIN {
            self.new_page();
        }
        self.y -= size * 1.6;
    }

    /// A line of text at `x` (from the left margin), wrapped at the right margin.
    pub fn line(&mut self, x: f32, size: f32, text: &str) {
        for part in wrap(text, size, WIDTH - 2.0 * MARGIN - x) {
            self.room(size);
            self.show(MARGIN + x, self.y, size, &part);
        }
    }

    /// A line centred on the page.
    pub fn centred(&mut self, size: f32, text: &str) {
        self.room(size);
        let x = (WIDTH - width(text, size)) / 2.0;
        self.show(x.max(MARGIN), self.y, size, text);
    }

    /// One line of columns, each at its offset from the left margin (cut to fit before the
    /// next column).
    pub fn columns(&mut self, size: f32, cells: &[(f32, &str)]) {
        self.room(size);
        for (i, (x, text)) in cells.iter().enumerate() {
            let room = cells
                .get(i + 1)
                .map_or(WIDTH - 2.0 * MARGIN - x, |(next, _)| next - x - size / 2.0);
            let first = wrap(text, size, room)
                .into_iter()
                .next()
                .unwrap_or_default();
            self.show(MARGIN + x, self.y, size, &first);
        }
    }

    /// Space before the next line.
    pub fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn show(&mut self, x: f32, y: f32, size: f32, text: &str) {
        let page = self.pages.last_mut().expect("a document has a page");
        page.begin_text();
        page.set_font(FONT, size);
        page.next_line(x, y);
        page.show(Str(&ucs2(text)));
        page.end_text();
    }

    /// The PDF's bytes.
    pub fn finish(self, title: &str) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let font = Ref::new(3);
        let cid_font = Ref::new(4);
        let descriptor = Ref::new(5);
        let to_unicode = Ref::new(6);
        let info = Ref::new(7);
        let first_page = 8;
        let count = self.pages.len() as i32;
        let page_ids: Vec<Ref> = (0..count).map(|i| Ref::new(first_page + 2 * i)).collect();

        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_ids.iter().copied()).count(count);
        pdf.document_info(info).title(pdf_writer::TextStr(title));

        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"GB1"),
            supplement: 2,
        };
        pdf.type0_font(font)
            .base_font(Name(b"STSong-Light"))
            .encoding_predefined(Name(b"UniGB-UCS2-H"))
            .descendant_font(cid_font)
            .to_unicode(to_unicode);
        let mut cid = pdf.cid_font(cid_font);
        cid.subtype(CidFontType::Type0)
            .base_font(Name(b"STSong-Light"))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(1000.0);
        // CIDs 1–95 of Adobe-GB1 are its half-width Latin letters, digits and marks.
        cid.widths().consecutive(1, std::iter::repeat_n(500.0, 95));
        cid.finish();
        pdf.font_descriptor(descriptor)
            .name(Name(b"STSong-Light"))
            .flags(FontFlags::SYMBOLIC | FontFlags::SERIF)
            .bbox(Rect::new(-25.0, -254.0, 1000.0, 880.0))
            .italic_angle(0.0)
            .ascent(880.0)
            .descent(-120.0)
            .cap_height(880.0)
            .stem_v(93.0);
        // The codes are UCS-2: each is its own Unicode scalar.
        pdf.stream(to_unicode, IDENTITY_TO_UNICODE);

        for (i, content) in self.pages.into_iter().enumerate() {
            let page_id = page_ids[i];
            let content_id = Ref::new(page_id.get() + 1);
            let mut page = pdf.page(page_id);
            page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT))
                .parent(tree)
                .contents(content_id);
            page.resources().fonts().pair(FONT, font);
            page.finish();
            let data = content.finish();
            pdf.stream(content_id, &data);
        }
        pdf.finish()
    }
}

/// A `ToUnicode` CMap mapping every two-byte code to the same Unicode value.
const IDENTITY_TO_UNICODE: &[u8] = b"/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMapResource defineresource pop
end
end
";

/// The text as UCS-2, big-endian: what `UniGB-UCS2-H` reads.
fn ucs2(text: &str) -> Vec<u8> {
    text.chars()
        .flat_map(|c| {
            let unit = u16::try_from(u32::from(c)).unwrap_or(0xFF1F);
            unit.to_be_bytes()
        })
        .collect()
}

/// The width of `text` at `size`: a full em for Chinese, half for Latin.
fn width(text: &str, size: f32) -> f32 {
    text.chars().map(|c| char_width(c, size)).sum()
}

fn char_width(c: char, size: f32) -> f32 {
    if c.is_ascii() { size / 2.0 } else { size }
}

/// `text` in lines no wider than `room`.
fn wrap(text: &str, size: f32, room: f32) -> Vec<String> {
    let mut lines = vec![String::new()];
    let mut used = 0.0;
    for c in text.chars() {
        let w = char_width(c, size);
        if used + w > room && !lines.last().is_some_and(String::is_empty) {
            lines.push(String::new());
            used = 0.0;
        }
        lines.last_mut().expect("one line at least").push(c);
        used += w;
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_ucs2_and_wraps_by_width() {
        assert_eq!(ucs2("王A"), vec![0x73, 0x8B, 0x00, 0x41]);
        assert_eq!(ucs2("𠀀"), vec![0xFF, 0x1F], "beyond the BMP: shown as ？");
        let lines = wrap("一二三四五abcd", 10.0, 30.0);
        assert_eq!(lines, ["一二三", "四五ab", "cd"]);
    }

    #[test]
    fn a_long_document_runs_onto_more_pages() {
        let mut d = Document::new();
        for i in 0..80 {
            d.line(0.0, 12.0, &format!("第{i}行"));
        }
        assert_eq!(d.pages.len(), 3);
        let bytes = d.finish("测试");
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.windows(12).any(|w| w == b"STSong-Light"));
    }
}
