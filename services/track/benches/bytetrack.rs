//! `ByteTrack::update` per frame at 25 and 100 objects.
//!
//! Objects move smoothly on closed Lissajous paths (about 1-3 px per frame)
//! with a little jitter and 2% missed detections, so nearly every detection
//! matches its track, as in a real clip. The stream is periodic, so the
//! benchmark can cycle through it forever in a steady state.

// A bench has no public API; the one public item is the `pub fn benches`
// that `criterion_group!` makes, which no doc comment (or attribute on the
// invocation) can reach.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sv_core::Detection;
use sv_track::bytetrack::ByteTrack;

const PERIOD: usize = 1000;

/// A tiny deterministic generator (xorshift64*), to avoid a rand dependency.
struct Rng(u64);
impl Rng {
    fn next_f32(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
    }
}

fn stream(n_objects: usize) -> Vec<Vec<Detection>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n_objects as u64);
    let objs: Vec<[f32; 8]> = (0..n_objects)
        .map(|_| {
            let r = [(); 8].map(|_| rng.next_f32());
            // centre, amplitude, phase, box size
            [
                200.0 + 1500.0 * r[0],
                150.0 + 750.0 * r[1],
                50.0 + 250.0 * r[2],
                30.0 + 120.0 * r[3],
                6.3 * r[4],
                6.3 * r[5],
                20.0 + 30.0 * r[6],
                45.0 + 60.0 * r[7],
            ]
        })
        .collect();
    (0..PERIOD)
        .map(|f| {
            let t = f as f32 / PERIOD as f32 * std::f32::consts::TAU;
            let mut dets = Vec::with_capacity(n_objects);
            for o in &objs {
                if rng.next_f32() < 0.02 {
                    continue;
                }
                let cx = o[0] + o[2] * (t + o[4]).sin() + rng.next_f32() - 0.5;
                let cy = o[1] + o[3] * (2.0 * t + o[5]).sin() + rng.next_f32() - 0.5;
                let (w, h) = (o[6], o[7]);
                dets.push(Detection {
                    bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                    confidence: 0.5 + 0.45 * rng.next_f32(),
                    class_id: 2,
                });
            }
            dets
        })
        .collect()
}

fn bench_update(c: &mut Criterion) {
    for n in [25, 100] {
        // Built on the first call only, so a filtered-out size costs nothing
        // (criterion calls the closure once per sample).
        let mut state: Option<(Vec<Vec<Detection>>, ByteTrack, usize)> = None;
        c.bench_function(&format!("bytetrack_update_{n}_objects"), |b| {
            let (frames, tracker, i) = state.get_or_insert_with(|| {
                let frames = stream(n);
                let mut tracker = ByteTrack::default();
                // Warm up into the steady state: one full period.
                let (mut n_in, mut n_out) = (0, 0);
                for f in &frames {
                    n_in += f.len();
                    n_out += tracker.update(f).len();
                }
                let pct = 100.0 * n_out as f64 / n_in as f64;
                eprintln!("{n} objects: {pct:.1}% of detections tracked during warm-up");
                (frames, tracker, 0)
            });
            b.iter(|| {
                let out = tracker.update(black_box(&frames[*i % PERIOD]));
                *i += 1;
                black_box(out)
            })
        });
    }
}

criterion_group!(benches, bench_update);
criterion_main!(benches);
