//! What the validator's CLIP decides a box shows, and the points a box
//! earns for it (the validator's `BBoxScore`).

use crate::answer::Object;

/// A box's label, as the miner's class or as CLIP sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// The ball: class 0, or a first ball CLIP finds round and a ball.
    Football,
    /// Class 1, or CLIP's answer "goalkeeper" to the role question.
    Goalkeeper,
    /// Class 2, or CLIP's answer "football player".
    Player,
    /// Class 3, or CLIP's answer "referee".
    Referee,
    /// CLIP's answer "crowd" for a box it took for a person.
    Crowd,
    /// A non-ball box CLIP does not take for a person (person probability
    /// 0.08 or less).
    Grass,
    /// CLIP's answer "black shape" (often a box blacked out by an earlier
    /// one).
    BlackShape,
    /// A box of class 0 that CLIP does not accept as the ball, and every
    /// ball after the first.
    NotFootball,
    /// A class id outside 0..=3 (or none), or a role index past the prompts.
    Other,
}

impl Label {
    /// The miner's class id as the validator reads it (unknown ids: other).
    pub fn predicted(object: &Object) -> Label {
        match object.class_id {
            Some(0.0) => Label::Football,
            Some(1.0) => Label::Goalkeeper,
            Some(2.0) => Label::Player,
            Some(3.0) => Label::Referee,
            _ => Label::Other,
        }
    }

    /// The answer to the role question, by prompt index.
    pub fn role(index: usize) -> Label {
        [
            Label::Player,
            Label::Goalkeeper,
            Label::Referee,
            Label::Crowd,
            Label::BlackShape,
        ]
        .get(index)
        .copied()
        .unwrap_or(Label::Other)
    }

    fn is_person(self) -> bool {
        matches!(self, Label::Player | Label::Goalkeeper | Label::Referee)
    }
}

/// A box's points before its weight: +1 when CLIP agrees, +0.5 for another
/// person role, -1 for anything CLIP says is not a player, ball or referee.
pub fn sigma(expected: Label, predicted: Label) -> f64 {
    if expected.is_person() {
        if predicted == expected {
            1.0
        } else if predicted.is_person() {
            0.5
        } else {
            -1.0
        }
    } else if expected == Label::Football && predicted == Label::Football {
        1.0
    } else {
        -1.0
    }
}

/// A frame's normalised points: each box's sigma weighted by `2^-n`, n the
/// earlier boxes with the same expected label, summed and divided by the
/// distinct expected labels plus one (0 with no label).
pub fn frame_points(pairs: &[(Label, Label)]) -> f64 {
    let mut seen: Vec<Label> = Vec::new();
    let mut total = 0.0;
    for &(predicted, expected) in pairs {
        let earlier = seen.iter().filter(|&&l| l == expected).count();
        total += sigma(expected, predicted) / f64::from(1u32 << earlier.min(31));
        seen.push(expected);
    }
    seen.sort_by_key(|l| *l as u8);
    seen.dedup();
    if seen.is_empty() {
        0.0
    } else {
        total / (seen.len() + 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Label::*;

    #[test]
    fn worked_values() {
        // One correct player: 1 / 2.
        assert_eq!(frame_points(&[(Player, Player)]), 0.5);
        // Three: (1 + 0.5 + 0.25) / 2.
        assert_eq!(frame_points(&[(Player, Player); 3]), 0.875);
        // A player CLIP calls a goalkeeper: 0.5 / 2.
        assert_eq!(frame_points(&[(Player, Goalkeeper)]), 0.25);
        // A ball CLIP rejects among players: (1 + 0.5 - 1) / 3.
        let v = frame_points(&[(Player, Player), (Player, Player), (Football, NotFootball)]);
        assert!((v - 0.5 / 3.0).abs() < 1e-12, "{v}");
        assert_eq!(frame_points(&[]), 0.0);
        assert_eq!(sigma(Grass, Player), -1.0);
        assert_eq!(sigma(Football, Football), 1.0);
    }
}
