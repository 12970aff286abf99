//! What `scorevision bench` prints: the table of rows, the best row and
//! the recommendation (flags and an `[infer]` table).

use super::Row;
use crate::bench_score::score_columns;

/// Among the rows that answered every frame and, at an interval above 1,
/// kept `min_agreement` box agreement with the every-frame answer: the
/// highest expected final score when all of them were scored, else the
/// fastest.
pub fn best(rows: &[Row], min_agreement: f64) -> Option<&Row> {
    let frames = rows.iter().map(|r| r.frames).max()?;
    let eligible: Vec<&Row> = rows
        .iter()
        .filter(|r| r.error.is_none() && r.frames == frames && frames > 0)
        .filter(|r| r.agreement.is_none_or(|a| a >= min_agreement))
        .collect();
    if eligible.iter().all(|r| r.score.is_some()) {
        let fin = |r: &Row| r.score.map_or(0.0, |s| s.expected_final);
        eligible.into_iter().max_by(|a, b| {
            fin(a)
                .total_cmp(&fin(b))
                .then(b.seconds.total_cmp(&a.seconds))
        })
    } else {
        eligible
            .into_iter()
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
    }
}

pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<9} {:<9} {:>5} {:>5} {:>5} {:>8} {:>8} {:>8} {:>8} {:>9} {:>7} {:>8} {:>6} {:>8} {:>5} {:>7}\n",
        "provider",
        "precision",
        "input",
        "batch",
        "lanes",
        "interval",
        "load s",
        "seconds",
        "fps",
        "ORT busy",
        "frames",
        "objects",
        "agree",
        "keypoint",
        "box",
        "final"
    );
    for r in rows {
        let lanes = if r.lanes == 0 {
            "auto".to_string()
        } else {
            r.lanes.to_string()
        };
        let input = if r.byte_input { "u8" } else { "float" };
        let agree = r.agreement.map_or("-".to_string(), |a| format!("{a:.3}"));
        match &r.error {
            None => out.push_str(&format!(
                "{:<9} {:<9} {:>5} {:>5} {:>5} {:>8} {:>8.2} {:>8.3} {:>8.1} {:>8.0}% {:>7} {:>8} {:>6} {}\n",
                r.provider,
                r.precision,
                input,
                r.batch_size,
                lanes,
                r.interval,
                r.load_s,
                r.seconds,
                r.fps,
                r.ort_busy * 100.0,
                r.frames,
                r.objects,
                agree,
                score_columns(r.score)
            )),
            Some(e) => out.push_str(&format!(
                "{:<9} {:<9} {:>5} {:>5} {:>5} {:>8}  failed: {e}\n",
                r.provider, r.precision, input, r.batch_size, lanes, r.interval
            )),
        }
    }
    out
}

/// The best row as flags and as the `[infer]` table `serve` reads.
pub fn recommendation(best: &Row) -> String {
    let interval = match (best.interval, best.agreement) {
        (1, _) => String::new(),
        (n, Some(a)) => {
            format!(", models on 1 frame in {n}, box agreement {a:.3} with every frame")
        }
        (n, None) => format!(", models on 1 frame in {n}"),
    };
    let score = best.score.map_or(String::new(), |s| {
        format!(
            ", keypoint score {:.4}, expected final {:.4}",
            s.keypoint_score, s.expected_final
        )
    });
    format!(
        "Best: {}{interval} ({:.3} s, {:.1} fps{score})\n  flags: {}\n  TOML (in serve's --config, or --infer-config FILE):\n{}",
        best.profile,
        best.seconds,
        best.fps,
        best.tuning.to_flags().join(" "),
        best.tuning
            .to_toml()
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_score::{RowScore, final_note};
    use sv_infer::Precision;
    use sv_infer::{Interval, Tuning};

    fn row(provider: &str, batch: usize, seconds: f64, frames: usize, error: Option<&str>) -> Row {
        Row {
            provider: provider.into(),
            precision: "fp16".into(),
            batch_size: batch,
            lanes: 2,
            byte_input: batch == 8,
            interval: 1,
            agreement: None,
            profile: format!("{provider} batch {batch}"),
            load_s: 1.0,
            seconds,
            fps: frames as f64 / seconds,
            ort_busy: 0.9,
            frames,
            objects: 10,
            score: None,
            error: error.map(str::to_owned),
            tuning: Tuning {
                batch_size: Some(batch),
                precision: Some(Precision::Fp16),
                ..Tuning::default()
            },
            answer: Vec::new(),
        }
    }

    fn at_interval(mut r: Row, interval: u32, agreement: f64) -> Row {
        r.interval = interval;
        r.agreement = Some(agreement);
        r.tuning.infer_interval = Some(Interval::from(interval));
        r
    }

    #[test]
    fn the_best_row_is_the_fastest_complete_one() {
        let rows = vec![
            row("CUDA", 1, 9.0, 750, None),
            row("CUDA", 8, 2.0, 750, None),
            // Faster but lost frames, or failed: never the best.
            row("CUDA", 16, 1.0, 700, None),
            row("CUDA", 32, 0.5, 0, Some("out of memory")),
        ];
        let best = best(&rows, 0.95).unwrap();
        assert_eq!(best.batch_size, 8);
        let text = recommendation(best);
        assert!(text.contains("--precision fp16 --batch-size 8"), "{text}");
        assert!(text.contains("batch_size = 8"), "{text}");
        let table = table(&rows);
        assert_eq!(table.lines().count(), 5);
        assert!(table.contains("failed: out of memory"), "{table}");
        assert_eq!(table.matches(" u8 ").count(), 1, "{table}");
        assert!(super::best(&[], 0.95).is_none());
    }

    #[test]
    fn the_best_interval_is_the_fastest_that_keeps_the_agreement() {
        let rows = vec![
            at_interval(row("CPU", 1, 2.0, 50, None), 1, 1.0),
            at_interval(row("CPU", 1, 1.1, 50, None), 2, 0.97),
            at_interval(row("CPU", 1, 0.8, 50, None), 3, 0.93),
        ];
        let best = best(&rows, 0.95).unwrap();
        assert_eq!(best.interval, 2);
        let text = recommendation(best);
        assert!(text.contains("--infer-interval 2"), "{text}");
        assert!(text.contains("infer_interval = 2"), "{text}");
        assert!(text.contains("box agreement 0.970"), "{text}");
        // A lower floor takes the faster interval; a floor no row meets
        // above interval 1 keeps every frame.
        assert_eq!(super::best(&rows, 0.9).unwrap().interval, 3);
        assert_eq!(super::best(&rows, 0.99).unwrap().interval, 1);
        let table = table(&rows);
        assert!(table.contains("0.930"), "{table}");
    }

    #[test]
    fn with_scores_the_best_row_is_the_highest_expected_final() {
        let scored = |mut r: Row, keypoint: f64| {
            let speed = validator_speed(r.seconds, 1.0);
            r.score = Some(RowScore {
                keypoint_score: keypoint,
                box_score: Some(0.5),
                expected_final: 0.65 * (0.25 + 0.5 * keypoint) + 0.35 * speed,
                without_box_half: false,
            });
            r
        };
        // FP16 batch 16 is fastest but its keypoints score much worse.
        let rows = vec![
            scored(row("CUDA", 8, 1.2, 750, None), 0.60),
            scored(row("CUDA", 16, 1.0, 750, None), 0.20),
        ];
        let best = best(&rows, 0.95).unwrap();
        assert_eq!(best.batch_size, 8);
        assert!(
            recommendation(best).contains("expected final"),
            "{}",
            recommendation(best)
        );
        let text = table(&rows);
        assert!(text.contains("0.6000") && text.contains("0.50"), "{text}");
        let note = final_note(rows.iter().filter_map(|r| r.score), 1.0).unwrap();
        assert!(note.contains("1 s") && !note.contains('*'), "{note}");
        // A row that could not be scored: the fastest, as before.
        let mixed = vec![rows[0].clone(), row("CUDA", 16, 1.0, 750, None)];
        assert_eq!(super::best(&mixed, 0.95).unwrap().batch_size, 16);
        // An interval below the agreement floor is never the best, however
        // well it would score.
        let fast = at_interval(scored(row("CUDA", 8, 0.5, 750, None), 0.9), 3, 0.80);
        let with_interval = vec![rows[0].clone(), rows[1].clone(), fast];
        assert_eq!(super::best(&with_interval, 0.95).unwrap().interval, 1);
    }

    /// The validator's speed score (calculate_speed_score) for the test.
    fn validator_speed(t: f64, fastest: f64) -> f64 {
        if t <= fastest {
            1.0
        } else {
            (-5.0 * (t - fastest) / (15.0 - fastest)).exp()
        }
    }
}
