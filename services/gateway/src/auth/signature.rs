//! fiber's request signature: sr25519 over `"{nonce}:{miner}:{sha256(body)}"`.

use schnorrkel::{PublicKey, Signature};
use sha2::{Digest, Sha256};

/// The signing context substrate (and so fiber) uses for sr25519.
const CONTEXT: &[u8] = b"substrate";

/// Why a signature header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// After its optional `0x`, the header is not an even number of hex
    /// digits.
    #[error("signature is not 0x-prefixed hex")]
    NotHex,
    /// The hex decodes to this many bytes instead of 64.
    #[error("signature is {0} bytes, expected 64")]
    Length(usize),
    /// 64 bytes, but not an sr25519 signature (schnorrkel's marker bit
    /// missing or a scalar out of range).
    #[error("signature is not a valid sr25519 signature")]
    Malformed,
    /// The validator's 32 key bytes are not a point on the curve.
    #[error("validator hotkey is not a valid sr25519 public key")]
    BadKey,
    /// A well-formed signature over some other message (plain or
    /// `<Bytes>`-wrapped) or by another key.
    #[error("signature does not match the validator hotkey, nonce, miner hotkey and body")]
    Mismatch,
}

/// Lowercase hex sha256 of the body bytes exactly as received.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The message fiber signs.
pub fn message(nonce: &str, miner_hotkey: &str, body: &[u8]) -> String {
    format!("{nonce}:{miner_hotkey}:{}", body_hash(body))
}

/// Parses a `signature` header: `0x` + 128 hex digits (the `0x` is optional,
/// as substrate-interface accepts both).
pub fn parse(header: &str) -> Result<[u8; 64], SignatureError> {
    let digits = header.strip_prefix("0x").unwrap_or(header);
    let bytes = hex::decode(digits).map_err(|_| SignatureError::NotHex)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| SignatureError::Length(bytes.len()))
}

/// Verifies `signature` by `public_key` over `message`, then over the
/// `<Bytes>`-wrapped message some signers (polkadot.js) produce.
pub fn verify(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let key = PublicKey::from_bytes(public_key).map_err(|_| SignatureError::BadKey)?;
    let signature = Signature::from_bytes(signature).map_err(|_| SignatureError::Malformed)?;
    if key.verify_simple(CONTEXT, message, &signature).is_ok() {
        return Ok(());
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    key.verify_simple(CONTEXT, &wrapped, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ss58;

    // Produced by substrate-interface 1.7.10: //Alice signs a fiber message
    // addressed to //Bob, once plainly and once `<Bytes>`-wrapped.
    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const BOB: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";
    const BODY: &[u8] = br#"{"challenge_id": "c1", "video_url": "http://x/v.mp4"}"#;
    const NONCE: &str = "1700000000000000000_abcdefghij";
    const MESSAGE: &str = "1700000000000000000_abcdefghij:5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty:0c3717275f0e888b6bd5cb78445da7998b0a522c73aceea4b97b8307f444c49e";
    const SIG: &str = "0x0a92fabc1088a8649c5453de7d98eb7734ae671a64e6632c8604bca1dd359a3ea65d01a94b8212d9dd24fd462b57a0720d6d741ced0b0ded3b1e5b0498bbd687";
    const WRAPPED_SIG: &str = "0xd86310cb73ccd2aab9c73194e03f3e35a316c8ccde69dd575b3fd64e65eff81cba0fa171940a91fe25474e541e067b56db4b400a61e0c54e6dfbc4d897b22683";

    fn alice() -> [u8; 32] {
        ss58::decode(ALICE).unwrap()
    }

    #[test]
    fn builds_the_fiber_message() {
        assert_eq!(message(NONCE, BOB, BODY), MESSAGE);
    }

    #[test]
    fn verifies_a_substrate_interface_signature() {
        verify(&alice(), MESSAGE.as_bytes(), &parse(SIG).unwrap()).unwrap();
    }

    #[test]
    fn verifies_a_wrapped_signature() {
        verify(&alice(), MESSAGE.as_bytes(), &parse(WRAPPED_SIG).unwrap()).unwrap();
    }

    #[test]
    fn rejects_another_message_or_key() {
        let sig = parse(SIG).unwrap();
        let other = message(NONCE, BOB, b"{}");
        assert_eq!(
            verify(&alice(), other.as_bytes(), &sig),
            Err(SignatureError::Mismatch)
        );
        let bob = ss58::decode(BOB).unwrap();
        assert_eq!(
            verify(&bob, MESSAGE.as_bytes(), &sig),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rejects_malformed_headers() {
        assert_eq!(parse("0xzz"), Err(SignatureError::NotHex));
        assert_eq!(parse("0xabcd"), Err(SignatureError::Length(2)));
        assert_eq!(
            parse(&SIG[..SIG.len() - 2]),
            Err(SignatureError::Length(63))
        );
        assert_eq!(parse(&SIG[2..]).unwrap(), parse(SIG).unwrap());
        // Without schnorrkel's marker bit the bytes are no sr25519 signature.
        let mut unmarked = parse(SIG).unwrap();
        unmarked[63] &= 0x7f;
        assert_eq!(
            verify(&alice(), MESSAGE.as_bytes(), &unmarked),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn round_trips_with_a_fresh_key() {
        let keypair = schnorrkel::MiniSecretKey::from_bytes(&[7u8; 32])
            .unwrap()
            .expand_to_keypair(schnorrkel::ExpansionMode::Ed25519);
        let msg = message("1_x", BOB, BODY);
        let sig = keypair.sign_simple(CONTEXT, msg.as_bytes()).to_bytes();
        verify(&keypair.public.to_bytes(), msg.as_bytes(), &sig).unwrap();
    }
}
