//! A 5x7 bitmap font for the few characters a preview writes: digits, the
//! class initials (B ball, G goalkeeper, P player, R referee), "FRAME" and
//! `?` for anything else. Embedded so annotating needs no system fonts.

/// Glyph width and height in font pixels.
pub const WIDTH: u32 = 5;
pub const HEIGHT: u32 = 7;
/// Horizontal distance between the starts of two characters (one blank column).
pub const ADVANCE: u32 = WIDTH + 1;

/// One row per line, top first; bit 4 is the leftmost pixel, so each row's
/// binary literal reads as the picture.
type Glyph = [u8; HEIGHT as usize];

#[rustfmt::skip]
const GLYPHS: &[(char, Glyph)] = &[
    ('0', [0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110]),
    ('1', [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110]),
    ('2', [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111]),
    ('3', [0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110]),
    ('4', [0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010]),
    ('5', [0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110]),
    ('6', [0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110]),
    ('7', [0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000]),
    ('8', [0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110]),
    ('9', [0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100]),
    ('A', [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001]),
    ('B', [0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110]),
    ('E', [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111]),
    ('F', [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000]),
    ('G', [0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111]),
    ('M', [0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001]),
    ('P', [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000]),
    ('R', [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001]),
    (' ', [0; 7]),
    ('?', [0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100]),
];

/// The glyph for `c` (lower case drawn as upper case); `?` for characters
/// the font lacks.
pub fn glyph(c: char) -> &'static Glyph {
    let c = c.to_ascii_uppercase();
    GLYPHS
        .iter()
        .find(|(g, _)| *g == c)
        .or_else(|| GLYPHS.iter().find(|(g, _)| *g == '?'))
        .map(|(_, rows)| rows)
        .expect("the font has '?'")
}

/// Whether font pixel (`x`, `y`) of `c` is ink.
pub fn ink(c: char, x: u32, y: u32) -> bool {
    x < WIDTH && y < HEIGHT && glyph(c)[y as usize] & (1 << (WIDTH - 1 - x)) != 0
}

/// Width in font pixels of `text` (no trailing blank column).
pub fn text_width(text: &str) -> u32 {
    match text.chars().count() as u32 {
        0 => 0,
        n => n * ADVANCE - 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_fit_five_columns_and_are_distinct() {
        for (c, rows) in GLYPHS {
            assert!(
                rows.iter().all(|r| r >> WIDTH == 0),
                "{c:?} is wider than 5"
            );
        }
        for (i, (a, ra)) in GLYPHS.iter().enumerate() {
            for (b, rb) in &GLYPHS[i + 1..] {
                assert!(a != b && ra != rb, "{a:?} and {b:?}");
            }
        }
    }

    #[test]
    fn reads_as_the_picture() {
        // The top row of '7' is full, its bottom row one pixel at column 1.
        assert!((0..5).all(|x| ink('7', x, 0)));
        assert_eq!((0..5).filter(|&x| ink('7', x, 6)).collect::<Vec<_>>(), [1]);
        assert!(!ink('7', 5, 0) && !ink('7', 0, 7), "outside the cell");
    }

    #[test]
    fn unknown_characters_are_question_marks() {
        assert_eq!(glyph('%'), glyph('?'));
        assert_eq!(glyph('p'), glyph('P'));
        assert!((0..7).all(|y| (0..5).all(|x| !ink(' ', x, y))));
    }

    #[test]
    fn text_width_counts_the_gaps_between_characters() {
        assert_eq!(text_width(""), 0);
        assert_eq!(text_width("7"), 5);
        assert_eq!(text_width("P12"), 17);
    }
}
