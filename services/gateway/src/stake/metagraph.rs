//! Decoding `SubnetInfoRuntimeApi_get_metagraph(netuid)` results.
//!
//! The result is SCALE `Option<Metagraph<AccountId32>>`. Its layout changes
//! between runtime versions, so it is written down as data ([`LAYOUT`]) and
//! the decode is checked rather than trusted: every per-UID vector we use must
//! have one entry per UID, the hotkeys must reappear in the same order in the
//! dividend list, and stakes must fit in u64. A layout the checks reject is
//! an error (the caller keeps its previous snapshot) rather than a wrong
//! stake table. Bytes after the last known field are tolerated: runtimes
//! append fields at the end.

use super::scale::{Reader, ScaleError, Shape, Value};
use crate::auth::ss58;

/// Why a `get_metagraph` result was refused. `got` fields show the decoded
/// value that did not fit (its Debug form).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetagraphError {
    /// The option tag could not be read.
    #[error(transparent)]
    Scale(#[from] ScaleError),
    /// The chain answered `None`: no subnet with this netuid.
    #[error("the chain has no such subnet (None)")]
    NoSuchSubnet,
    /// The first byte is neither 0 (`None`) nor 1 (`Some`).
    #[error("option tag {tag}: not a metagraph")]
    NotAMetagraph {
        /// The byte found.
        tag: u8,
    },
    /// A field of the layout could not be read: the bytes end early or
    /// hold an impossible value.
    #[error("field {name}: {source}")]
    Field {
        /// The field's name in the layout.
        name: &'static str,
        /// What the reader found.
        source: ScaleError,
    },
    /// A field the decoder uses is not in the layout (a programming error
    /// a test catches).
    #[error("field {name} missing")]
    Missing {
        /// The field's name.
        name: &'static str,
    },
    /// A field decoded to another kind of value than the one used.
    #[error("field {name}: expected {expected}, got {got}")]
    FieldType {
        /// The field's name.
        name: &'static str,
        /// The kind the decoder needs, e.g. "a list".
        expected: &'static str,
        /// The decoded value.
        got: String,
    },
    /// A stake list holds something other than integers.
    #[error("{name}: expected integers, got {got}")]
    NotStakes {
        /// The stake field's name.
        name: &'static str,
        /// The first entry that is not an integer.
        got: String,
    },
    /// A stake above `u64::MAX` rao: no real stake is that large, so the
    /// layout is wrong.
    #[error("{name}: {value} does not fit u64")]
    StakeTooBig {
        /// The stake field's name.
        name: &'static str,
        /// The decoded stake, in rao.
        value: u128,
    },
    /// `netuid` or `block` is beyond its type's range.
    #[error("{name} does not fit {ty}")]
    TooBig {
        /// The field's name.
        name: &'static str,
        /// The type it must fit, e.g. "u16".
        ty: &'static str,
    },
    /// An account id that is not 32 bytes.
    #[error("account of wrong size")]
    AccountSize,
    /// A dividend list entry that does not start with an account.
    #[error("expected (account, amount) pairs")]
    NotPairs,
    /// An account list entry that is neither an account nor a pair.
    #[error("expected accounts, got {got}")]
    NotAccounts {
        /// The entry found.
        got: String,
    },
    /// A per-UID list does not have one entry per UID.
    #[error("{name} has {len} entries for {uids} UIDs: layout mismatch")]
    PerUid {
        /// The list's name.
        name: &'static str,
        /// Its number of entries.
        len: usize,
        /// `num_uids`, as the metagraph states it.
        uids: usize,
    },
    /// The dividend list names the hotkeys in another order than the
    /// hotkey list, so fields were read at the wrong offsets.
    #[error("tao_dividends_per_hotkey does not list the hotkeys in order: layout mismatch")]
    DividendOrder,
}

const ACCOUNT: Shape = Shape::Fixed(32);
const SUBNET_IDENTITY_V3: Shape = Shape::Struct(&[Shape::Bytes; 8]);
const CHAIN_IDENTITY_V2: Shape = Shape::Struct(&[Shape::Bytes; 7]);
// block u64, version u32, ip u128, port u16, ip_type, protocol, placeholder1, placeholder2.
const AXON_INFO: Shape = Shape::Struct(&[
    Shape::Fixed(8),
    Shape::Fixed(4),
    Shape::Fixed(16),
    Shape::Fixed(2),
    Shape::Fixed(1),
    Shape::Fixed(1),
    Shape::Fixed(1),
    Shape::Fixed(1),
]);
const COMPACTS: Shape = Shape::Vec(&Shape::Compact);
const FLAGS: Shape = Shape::Vec(&Shape::Bool);
const DIVIDENDS: Shape = Shape::Vec(&Shape::Struct(&[ACCOUNT, Shape::Compact]));

/// subtensor's `Metagraph` (pallets/subtensor/src/rpc_info/metagraph.rs),
/// field by field, as of the 2026 runtimes. `Compact<T>` encodes the same
/// whatever T's width, so widened fields need no new entry.
pub const LAYOUT: &[(&str, Shape)] = &[
    ("netuid", Shape::Compact),
    ("name", COMPACTS),
    ("symbol", COMPACTS),
    ("identity", Shape::Option(&SUBNET_IDENTITY_V3)),
    ("network_registered_at", Shape::Compact),
    ("owner_hotkey", ACCOUNT),
    ("owner_coldkey", ACCOUNT),
    ("block", Shape::Compact),
    ("tempo", Shape::Compact),
    ("last_step", Shape::Compact),
    ("blocks_since_last_step", Shape::Compact),
    ("subnet_emission", Shape::Compact),
    ("alpha_in", Shape::Compact),
    ("alpha_out", Shape::Compact),
    ("tao_in", Shape::Compact),
    ("alpha_out_emission", Shape::Compact),
    ("alpha_in_emission", Shape::Compact),
    ("tao_in_emission", Shape::Compact),
    ("pending_alpha_emission", Shape::Compact),
    ("pending_root_emission", Shape::Compact),
    ("subnet_volume", Shape::Compact),
    ("moving_price", Shape::Fixed(16)),
    ("rho", Shape::Compact),
    ("kappa", Shape::Compact),
    ("min_allowed_weights", Shape::Compact),
    ("max_weights_limit", Shape::Compact),
    ("weights_version", Shape::Compact),
    ("weights_rate_limit", Shape::Compact),
    ("activity_cutoff", Shape::Compact),
    ("max_validators", Shape::Compact),
    ("num_uids", Shape::Compact),
    ("max_uids", Shape::Compact),
    ("burn", Shape::Compact),
    ("difficulty", Shape::Compact),
    ("registration_allowed", Shape::Bool),
    ("pow_registration_allowed", Shape::Bool),
    ("immunity_period", Shape::Compact),
    ("min_difficulty", Shape::Compact),
    ("max_difficulty", Shape::Compact),
    ("min_burn", Shape::Compact),
    ("max_burn", Shape::Compact),
    ("adjustment_alpha", Shape::Compact),
    ("adjustment_interval", Shape::Compact),
    ("target_regs_per_interval", Shape::Compact),
    ("max_regs_per_block", Shape::Compact),
    ("serving_rate_limit", Shape::Compact),
    ("commit_reveal_weights_enabled", Shape::Bool),
    ("commit_reveal_period", Shape::Compact),
    ("liquid_alpha_enabled", Shape::Bool),
    ("alpha_high", Shape::Compact),
    ("alpha_low", Shape::Compact),
    ("bonds_moving_avg", Shape::Compact),
    ("hotkeys", Shape::Vec(&ACCOUNT)),
    ("coldkeys", Shape::Vec(&ACCOUNT)),
    ("identities", Shape::Vec(&Shape::Option(&CHAIN_IDENTITY_V2))),
    ("axons", Shape::Vec(&AXON_INFO)),
    ("active", FLAGS),
    ("validator_permit", FLAGS),
    // pruning_score, trust and rank are empty on current runtimes.
    ("pruning_score", COMPACTS),
    ("last_update", COMPACTS),
    ("emission", COMPACTS),
    ("dividends", COMPACTS),
    ("incentives", COMPACTS),
    ("consensus", COMPACTS),
    ("trust", COMPACTS),
    ("rank", COMPACTS),
    ("block_at_registration", COMPACTS),
    ("alpha_stake", COMPACTS),
    ("tao_stake", COMPACTS),
    ("total_stake", COMPACTS),
    ("tao_dividends_per_hotkey", DIVIDENDS),
    ("alpha_dividends_per_hotkey", DIVIDENDS),
];

/// The parts of a metagraph the stake policy uses. Stakes are in rao.
#[derive(Debug, Clone, PartialEq)]
pub struct Metagraph {
    /// The subnet this metagraph describes.
    pub netuid: u16,
    /// The block it was read at.
    pub block: u64,
    /// ss58 (prefix 42) per UID.
    pub hotkeys: Vec<String>,
    /// TAO staked per UID, in rao: what the stake policy compares.
    pub tao_stake: Vec<u64>,
    /// The subnet's alpha token staked per UID, in its smallest unit.
    pub alpha_stake: Vec<u64>,
    /// Per UID, the chain's combined stake figure (alpha and TAO); decoded
    /// to check the layout, not used by the policy.
    pub total_stake: Vec<u64>,
    /// Bytes after the last known field (a newer runtime's additions).
    pub trailing_bytes: usize,
}

/// Decodes and checks a `get_metagraph` result.
pub fn decode_metagraph(bytes: &[u8]) -> Result<Metagraph, MetagraphError> {
    use MetagraphError as E;
    let mut reader = Reader::new(bytes);
    match reader.byte()? {
        0 => return Err(E::NoSuchSubnet),
        1 => {}
        tag => return Err(E::NotAMetagraph { tag }),
    }
    let mut fields = std::collections::HashMap::new();
    for &(name, shape) in LAYOUT {
        let value = reader
            .value(&shape)
            .map_err(|source| E::Field { name, source })?;
        fields.insert(name, value);
    }
    let field = |name: &'static str| fields.get(name).ok_or(E::Missing { name });
    let int = |name: &'static str| match field(name)? {
        Value::Int(v) => Ok(*v),
        other => Err(E::FieldType {
            name,
            expected: "an integer",
            got: format!("{other:?}"),
        }),
    };
    let list = |name: &'static str| match field(name)? {
        Value::List(items) => Ok(items),
        other => Err(E::FieldType {
            name,
            expected: "a list",
            got: format!("{other:?}"),
        }),
    };
    let stakes = |name: &'static str| -> Result<Vec<u64>, MetagraphError> {
        list(name)?
            .iter()
            .map(|v| match v {
                Value::Int(x) => u64::try_from(*x).map_err(|_| E::StakeTooBig { name, value: *x }),
                other => Err(E::NotStakes {
                    name,
                    got: format!("{other:?}"),
                }),
            })
            .collect()
    };
    let account = |bytes: &[u8]| -> Result<[u8; 32], MetagraphError> {
        bytes.try_into().map_err(|_| E::AccountSize)
    };
    let accounts = |items: &[Value]| -> Result<Vec<[u8; 32]>, MetagraphError> {
        items
            .iter()
            .map(|v| match v {
                Value::Bytes(b) => account(b),
                Value::List(pair) => match pair.first() {
                    Some(Value::Bytes(b)) => account(b),
                    _ => Err(E::NotPairs),
                },
                other => Err(E::NotAccounts {
                    got: format!("{other:?}"),
                }),
            })
            .collect()
    };

    let num_uids = int("num_uids")? as usize;
    let hotkeys = accounts(list("hotkeys")?)?;
    let per_uid = |name: &'static str, len: usize| {
        if len == num_uids {
            Ok(())
        } else {
            Err(E::PerUid {
                name,
                len,
                uids: num_uids,
            })
        }
    };
    per_uid("hotkeys", hotkeys.len())?;
    per_uid("coldkeys", list("coldkeys")?.len())?;
    let tao_stake = stakes("tao_stake")?;
    let alpha_stake = stakes("alpha_stake")?;
    let total_stake = stakes("total_stake")?;
    per_uid("tao_stake", tao_stake.len())?;
    per_uid("alpha_stake", alpha_stake.len())?;
    per_uid("total_stake", total_stake.len())?;
    let dividend_keys = accounts(list("tao_dividends_per_hotkey")?)?;
    if !dividend_keys.is_empty() && dividend_keys != hotkeys {
        return Err(E::DividendOrder);
    }
    let too_big = |name, ty| E::TooBig { name, ty };
    Ok(Metagraph {
        netuid: u16::try_from(int("netuid")?).map_err(|_| too_big("netuid", "u16"))?,
        block: u64::try_from(int("block")?).map_err(|_| too_big("block", "u64"))?,
        hotkeys: hotkeys.iter().map(ss58::encode).collect(),
        tao_stake,
        alpha_stake,
        total_stake,
        trailing_bytes: reader.remaining(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_garbage_are_errors() {
        assert_eq!(decode_metagraph(&[0]), Err(MetagraphError::NoSuchSubnet));
        assert_eq!(
            decode_metagraph(&[0]).unwrap_err().to_string(),
            "the chain has no such subnet (None)"
        );
        assert!(matches!(
            decode_metagraph(&[]),
            Err(MetagraphError::Scale(ScaleError::Short { .. }))
        ));
        assert_eq!(
            decode_metagraph(&[2]),
            Err(MetagraphError::NotAMetagraph { tag: 2 })
        );
        let err = decode_metagraph(&[1, 0xb0, 0x04]).unwrap_err();
        assert!(matches!(err, MetagraphError::Field { .. }), "{err:?}");
        assert!(err.to_string().starts_with("field "), "{err}");
    }
}
