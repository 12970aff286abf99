//! Drawing one frame's answer onto its pixels: pure functions over a packed
//! RGB buffer (no I/O), so every mark can be checked pixel by pixel.
//!
//! Boxes are outlined inward from their rounded edges in their class's
//! colour, with the class initial and tracker id on a tab above them;
//! keypoints are red dots with their index beside them; the frame number
//! sits in the top-left corner. Marks grow with the frame (one font pixel per
//! 360 rows) so a 4K preview reads like a 720p one.

use sv_core::FrameResult;

use super::font;

pub type Rgb = [u8; 3];

pub const BALL: Rgb = [255, 128, 0];
pub const GOALKEEPER: Rgb = [255, 0, 255];
pub const PLAYER: Rgb = [0, 255, 255];
pub const REFEREE: Rgb = [255, 255, 0];
/// A class id outside the protocol's four.
pub const OTHER_CLASS: Rgb = [255, 255, 255];
pub const KEYPOINT: Rgb = [255, 0, 0];
pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];

/// The colour of class `class_id` (0 ball, 1 goalkeeper, 2 player, 3 referee).
pub fn class_colour(class_id: u32) -> Rgb {
    match class_id {
        0 => BALL,
        1 => GOALKEEPER,
        2 => PLAYER,
        3 => REFEREE,
        _ => OTHER_CLASS,
    }
}

/// The letter written before a box's tracker id (colour is not everyone's cue).
pub fn class_initial(class_id: u32) -> char {
    match class_id {
        0 => 'B',
        1 => 'G',
        2 => 'P',
        3 => 'R',
        _ => '?',
    }
}

/// A packed RGB picture (`3 * width` bytes per row) being drawn on. Every
/// primitive clips to the picture, so marks may reach past its edges.
pub struct Canvas<'a> {
    width: u32,
    height: u32,
    rgb: &'a mut [u8],
}

impl<'a> Canvas<'a> {
    /// None when `rgb` is not `width * height` packed RGB pixels.
    pub fn new(width: u32, height: u32, rgb: &'a mut [u8]) -> Option<Self> {
        (rgb.len() == width as usize * height as usize * 3).then_some(Self { width, height, rgb })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The colour at (`x`, `y`), None outside the picture.
    #[cfg(test)]
    pub fn pixel(&self, x: i64, y: i64) -> Option<Rgb> {
        let i = self.offset(x, y)?;
        Some([self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]])
    }

    fn offset(&self, x: i64, y: i64) -> Option<usize> {
        let inside =
            (0..i64::from(self.width)).contains(&x) && (0..i64::from(self.height)).contains(&y);
        inside.then(|| (y as usize * self.width as usize + x as usize) * 3)
    }

    pub fn put(&mut self, x: i64, y: i64, colour: Rgb) {
        if let Some(i) = self.offset(x, y) {
            self.rgb[i..i + 3].copy_from_slice(&colour);
        }
    }

    /// Fills the rectangle with corners (`x0`, `y0`) and (`x1`, `y1`), both included.
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        let (x0, x1) = (x0.max(0), x1.min(w - 1));
        for y in y0.max(0)..=y1.min(h - 1) {
            for x in x0..=x1 {
                self.put(x, y, colour);
            }
        }
    }

    /// The rectangle's border, `thickness` pixels wide inside its corners.
    pub fn outline(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, thickness: u32, colour: Rgb) {
        let t = i64::from(thickness.max(1)) - 1;
        self.fill_rect(x0, y0, x1, (y0 + t).min(y1), colour);
        self.fill_rect(x0, (y1 - t).max(y0), x1, y1, colour);
        self.fill_rect(x0, y0, (x0 + t).min(x1), y1, colour);
        self.fill_rect((x1 - t).max(x0), y0, x1, y1, colour);
    }

    /// A filled disc of radius `r` around (`cx`, `cy`).
    pub fn disc(&mut self, cx: i64, cy: i64, r: u32, colour: Rgb) {
        let r = i64::from(r);
        for dy in -r..=r {
            for dx in -r..=r {
                if dx * dx + dy * dy <= r * r + r {
                    self.put(cx + dx, cy + dy, colour);
                }
            }
        }
    }

    /// `text` with its top-left corner at (`x`, `y`), each font pixel a
    /// `scale` x `scale` square.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, colour: Rgb) {
        let s = i64::from(scale.max(1));
        for (i, c) in text.chars().enumerate() {
            let left = x + i as i64 * i64::from(font::ADVANCE) * s;
            for fy in 0..font::HEIGHT {
                for fx in 0..font::WIDTH {
                    if font::ink(c, fx, fy) {
                        let (px, py) = (left + i64::from(fx) * s, y + i64::from(fy) * s);
                        self.fill_rect(px, py, px + s - 1, py + s - 1, colour);
                    }
                }
            }
        }
    }

    /// `text` on a filled tab with a `scale`-pixel margin, its top-left
    /// corner at (`x`, `y`).
    pub fn label(&mut self, x: i64, y: i64, text: &str, scale: u32, fg: Rgb, bg: Rgb) {
        let (w, h) = label_size(text, scale);
        self.fill_rect(x, y, x + w - 1, y + h - 1, bg);
        let s = i64::from(scale.max(1));
        self.text(x + s, y + s, text, scale, fg);
    }
}

/// Width and height of [`Canvas::label`]'s tab.
pub fn label_size(text: &str, scale: u32) -> (i64, i64) {
    let s = i64::from(scale.max(1));
    (
        i64::from(font::text_width(text)) * s + 2 * s,
        i64::from(font::HEIGHT) * s + 2 * s,
    )
}

/// Font pixel size for a picture `height` rows tall: 2 at 720p.
pub fn scale_for(height: u32) -> u32 {
    (height / 360).max(1)
}

/// Whether a keypoint is drawn: `[0, 0]` means not visible (the protocol's
/// undetected point), and points off the picture are not scored either.
pub fn visible(point: [f64; 2], width: u32, height: u32) -> bool {
    let [x, y] = point;
    x.is_finite()
        && y.is_finite()
        && !(x == 0.0 && y == 0.0)
        && (0.0..f64::from(width)).contains(&x)
        && (0.0..f64::from(height)).contains(&y)
}

/// Everything the answer says about this frame: boxes, then keypoints over
/// them, then the frame number over everything.
pub fn draw_frame(canvas: &mut Canvas<'_>, frame: &FrameResult) {
    let scale = scale_for(canvas.height());
    for object in &frame.objects {
        draw_box(canvas, object, scale);
    }
    for (index, &point) in frame.keypoints.iter().enumerate() {
        if visible(point, canvas.width(), canvas.height()) {
            draw_keypoint(canvas, index, point, scale);
        }
    }
    let margin = 4 * i64::from(scale);
    let text = format!("FRAME {}", frame.frame_number);
    canvas.label(margin, margin, &text, scale + 1, WHITE, BLACK);
}

fn draw_box(canvas: &mut Canvas<'_>, object: &sv_core::ObjectResult, scale: u32) {
    if !object.bbox.iter().all(|v| v.is_finite()) {
        return;
    }
    let [x0, y0, x1, y1] = object.bbox.map(|v| v.round() as i64);
    let colour = class_colour(object.class_id);
    canvas.outline(x0, y0, x1, y1, scale, colour);
    let text = format!("{}{}", class_initial(object.class_id), object.id);
    let (_, h) = label_size(&text, scale);
    // Above the box; inside its top edge when the box touches the top.
    let y = if y0 - h >= 0 {
        y0 - h
    } else {
        y0 + i64::from(scale)
    };
    canvas.label(x0, y, &text, scale, BLACK, colour);
}

fn draw_keypoint(canvas: &mut Canvas<'_>, index: usize, [x, y]: [f64; 2], scale: u32) {
    let (cx, cy) = (x.floor() as i64, y.floor() as i64);
    let r = 2 * scale + 1;
    canvas.disc(cx, cy, r + 1, BLACK);
    canvas.disc(cx, cy, r, KEYPOINT);
    let text = index.to_string();
    let (_, h) = label_size(&text, scale);
    canvas.label(
        cx + i64::from(r) + 3,
        cy - h / 2,
        &text,
        scale,
        WHITE,
        BLACK,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use sv_core::ObjectResult;

    const GREY: Rgb = [90, 90, 90];

    fn grey(width: u32, height: u32) -> Vec<u8> {
        GREY.repeat(width as usize * height as usize)
    }

    fn frame(keypoints: Vec<[f64; 2]>, objects: Vec<ObjectResult>) -> FrameResult {
        FrameResult {
            frame_number: 12,
            keypoints,
            objects,
        }
    }

    #[test]
    fn a_canvas_needs_packed_rgb_of_its_size() {
        assert!(Canvas::new(4, 2, &mut [0; 24]).is_some());
        assert!(Canvas::new(4, 2, &mut [0; 23]).is_none());
    }

    #[test]
    fn outlines_colour_the_edges_only() {
        let mut rgb = grey(40, 30);
        let mut c = Canvas::new(40, 30, &mut rgb).unwrap();
        c.outline(10, 5, 20, 25, 2, PLAYER);
        for (x, y) in [
            (10, 15),
            (11, 15),
            (20, 15),
            (19, 15),
            (15, 5),
            (15, 6),
            (15, 25),
            (10, 5),
            (20, 25),
        ] {
            assert_eq!(c.pixel(x, y), Some(PLAYER), "edge ({x}, {y})");
        }
        for (x, y) in [
            (12, 15),
            (18, 15),
            (15, 7),
            (15, 23),
            (9, 15),
            (21, 15),
            (15, 4),
            (15, 26),
        ] {
            assert_eq!(c.pixel(x, y), Some(GREY), "not edge ({x}, {y})");
        }
    }

    #[test]
    fn marks_past_the_edges_are_clipped() {
        let mut rgb = grey(20, 10);
        let mut c = Canvas::new(20, 10, &mut rgb).unwrap();
        c.outline(-5, -5, 30, 30, 3, BALL);
        c.disc(19, 9, 6, KEYPOINT);
        c.label(15, 8, "FRAME 123", 3, WHITE, BLACK);
        c.fill_rect(50, 50, 10, 10, WHITE);
        assert_eq!(c.pixel(20, 0), None);
        assert_eq!(c.pixel(19, 9), Some(BLACK), "the tab is drawn last");
    }

    #[test]
    fn text_is_the_font_scaled() {
        let mut rgb = grey(30, 20);
        let mut c = Canvas::new(30, 20, &mut rgb).unwrap();
        c.text(1, 2, "17", 2, WHITE);
        for fy in 0..font::HEIGHT {
            for fx in 0..font::WIDTH {
                for (i, ch) in ['1', '7'].into_iter().enumerate() {
                    let left = 1 + 12 * i as i64;
                    let (x, y) = (left + 2 * i64::from(fx), 2 + 2 * i64::from(fy));
                    let want = if font::ink(ch, fx, fy) { WHITE } else { GREY };
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        assert_eq!(c.pixel(x + dx, y + dy), Some(want), "{ch} ({fx}, {fy})");
                    }
                }
            }
        }
    }

    #[test]
    fn boxes_are_outlined_in_their_class_colour_with_a_tab_above() {
        let (w, h) = (640, 360);
        let mut rgb = grey(w, h);
        let mut c = Canvas::new(w, h, &mut rgb).unwrap();
        let objects = (0..5)
            .map(|class_id| ObjectResult {
                id: 7,
                bbox: [
                    100.0 + 100.0 * f64::from(class_id),
                    200.4,
                    160.0 + 100.0 * f64::from(class_id),
                    300.6,
                ],
                class_id,
            })
            .collect();
        draw_frame(&mut c, &frame(vec![], objects));
        for class_id in 0..5u32 {
            let left = 100 + 100 * i64::from(class_id);
            let colour = class_colour(class_id);
            assert_eq!(c.pixel(left, 250), Some(colour));
            assert_eq!(c.pixel(left + 60, 250), Some(colour));
            assert_eq!(c.pixel(left + 30, 200), Some(colour));
            assert_eq!(c.pixel(left + 30, 301), Some(colour));
            assert_eq!(c.pixel(left + 30, 250), Some(GREY), "inside");
            assert_eq!(c.pixel(left - 2, 250), Some(GREY), "outside");
            // The tab: class colour just above the box's top-left corner.
            assert_eq!(c.pixel(left, 199), Some(colour));
        }
        assert_eq!(class_colour(9), OTHER_CLASS);
        let colours = [BALL, GOALKEEPER, PLAYER, REFEREE, KEYPOINT];
        for (i, a) in colours.iter().enumerate() {
            assert!(!colours[i + 1..].contains(a), "colours are distinct");
        }
    }

    #[test]
    fn a_box_at_the_top_keeps_its_tab_inside() {
        let mut rgb = grey(200, 100);
        let mut c = Canvas::new(200, 100, &mut rgb).unwrap();
        let object = ObjectResult {
            id: 3,
            bbox: [100.0, 2.0, 180.0, 90.0],
            class_id: 3,
        };
        draw_frame(&mut c, &frame(vec![], vec![object]));
        assert_eq!(c.pixel(101, 1), Some(GREY));
        assert_eq!(c.pixel(105, 3), Some(REFEREE), "tab inside the top edge");
    }

    #[test]
    fn keypoints_are_dots_at_their_coordinates_with_their_index() {
        let (w, h) = (640, 360);
        let mut rgb = grey(w, h);
        let mut c = Canvas::new(w, h, &mut rgb).unwrap();
        let mut keypoints = vec![[0.0, 0.0]; 32];
        keypoints[5] = [300.7, 200.2];
        draw_frame(&mut c, &frame(keypoints, vec![]));
        assert_eq!(c.pixel(300, 200), Some(KEYPOINT));
        assert_eq!(c.pixel(303, 200), Some(KEYPOINT), "radius 3 at 360 rows");
        assert_eq!(c.pixel(300, 210), Some(GREY));
        // "5" in white on black, right of the dot.
        let label: Vec<Rgb> = (306..320)
            .flat_map(|x| (190..211).map(move |y| (x, y)))
            .filter_map(|(x, y)| c.pixel(x, y))
            .collect();
        assert!(label.contains(&WHITE) && label.contains(&BLACK));
    }

    #[test]
    fn invisible_keypoints_are_not_drawn() {
        let (w, h) = (320, 180);
        let mut plain = grey(w, h);
        draw_frame(
            &mut Canvas::new(w, h, &mut plain).unwrap(),
            &frame(vec![], vec![]),
        );
        let mut zeros = grey(w, h);
        let mut points = vec![[0.0, 0.0]; 32];
        points[1] = [-4.0, 10.0];
        points[2] = [320.0, 10.0];
        points[3] = [f64::NAN, 10.0];
        draw_frame(
            &mut Canvas::new(w, h, &mut zeros).unwrap(),
            &frame(points, vec![]),
        );
        assert!(
            plain == zeros,
            "[0, 0] and off-picture points leave no mark"
        );
        assert!(visible([0.0, 5.0], w, h) && !visible([0.0, 0.0], w, h));
    }

    #[test]
    fn the_frame_number_is_written_top_left() {
        let (w, h) = (640, 360);
        let mut rgb = grey(w, h);
        let mut c = Canvas::new(w, h, &mut rgb).unwrap();
        draw_frame(&mut c, &frame(vec![], vec![]));
        // Scale 2 frame label at scale 1 + 1: tab from (4, 4), text from (6, 6).
        assert_eq!(c.pixel(4, 4), Some(BLACK));
        assert_eq!(c.pixel(3, 3), Some(GREY));
        // 'F' has a full top row: the first text pixel is white.
        assert_eq!(c.pixel(6, 6), Some(WHITE));
        let (tab_w, tab_h) = label_size("FRAME 12", 2);
        assert_eq!(c.pixel(4 + tab_w - 1, 4 + tab_h - 1), Some(BLACK));
        assert_eq!(c.pixel(4 + tab_w, 4 + tab_h), Some(GREY));
        assert_eq!(scale_for(720), 2);
        assert_eq!(scale_for(2160), 6);
        assert_eq!(scale_for(100), 1);
    }
}
